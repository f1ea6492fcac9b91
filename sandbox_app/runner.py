"""The notebook's sandbox: `start()` runs one in the background of this process, and running it again is safe."""

from __future__ import annotations

import atexit
import threading
from typing import Any

from .config import SandboxConfig
from .sandbox import Sandbox

_lock = threading.RLock()  # two threads starting at once get one sandbox
_current: Sandbox | None = None


def start(config: SandboxConfig | None = None, **settings: Any) -> Sandbox:
    """Start app + mail server on free loopback ports, or return the one already running (with `smtp_delay` applied).

    A notebook cell that starts it can be re-run safely. Give a SandboxConfig, or the settings
    `SandboxConfig.resolve` takes: `smtp_delay`, `server` ("inprocess", "waitress", "gunicorn-sync",
    "gunicorn-gthread", "gunicorn-gevent"), `workers`, `key`, `open`, `smtp_server` ("host:port" of an outside
    mail server), `queue_url`, `app_config` (further Flask settings), ... Also a context manager:
    `with sandbox_app.start() as sandbox:` stops it at the end of the block.
    """
    global _current
    if config is not None and settings:
        raise TypeError("give a SandboxConfig or settings, not both")
    with _lock:
        if _current is not None and _current.running:
            delay = settings.get("smtp_delay")
            if delay is not None:
                if _current.mail_server is None:
                    raise ValueError("this sandbox sends to an outside mail server: it has no delay to set")
                _current.mail_server.configure(delay=delay)
            return _current
        sandbox = Sandbox(config or SandboxConfig.resolve(**settings)).start()
        _current = sandbox
        return sandbox


def current() -> Sandbox | None:
    """The running sandbox, or None."""
    return _current if _current is not None and _current.running else None


def stop() -> None:
    """Stop the running sandbox, if any."""
    sandbox = current()
    if sandbox is not None:
        sandbox.stop()


atexit.register(stop)

"""The notebook's sandbox: `start()` runs one in the background of this process, and running it again is safe."""

from __future__ import annotations

import atexit
import threading
from dataclasses import fields
from typing import Any

from .config import SandboxConfig
from .sandbox import Sandbox

_lock = threading.RLock()  # two threads starting at once get one sandbox
_current: Sandbox | None = None
LIVE_SETTINGS = ("smtp_delay",)  # what a running sandbox changes in place: its debug mail server's delay
SECRETS = ("key", "smtp_password")  # named in an error, never shown


def start(config: SandboxConfig | None = None, **settings: Any) -> Sandbox:
    """Start app + mail server on free loopback ports, or return the one already running with `smtp_delay` applied.

    A notebook cell that starts it can be re-run safely. Give a SandboxConfig, or the settings
    `SandboxConfig.resolve` takes: `smtp_delay`, `server` ("inprocess", "waitress", "gunicorn-sync",
    "gunicorn-gthread", "gunicorn-gevent"), `workers`, `key`, `open`, `smtp_server` ("host:port" of an outside
    mail server), `queue_url`, `app_config` (further Flask settings), ... Also a context manager:
    `with sandbox_app.start() as sandbox:` stops it at the end of the block.

    A running sandbox is never restarted behind the learner's back: asked for another setting than the
    delay (another server, say), it raises ValueError naming it; `sandbox_app.stop()` first starts afresh.
    """
    global _current
    if config is not None and settings:
        raise TypeError("give a SandboxConfig or settings, not both")
    with _lock:
        if _current is not None and _current.running:
            asked = config or SandboxConfig.resolve(**settings)
            named = [f.name for f in fields(SandboxConfig)] if config is not None else list(settings)
            _refuse_fixed_changes(_current.config, asked, named)
            if "smtp_delay" in named and (config is not None or settings["smtp_delay"] is not None):
                _set_delay(_current, asked.smtp_delay)
            return _current
        sandbox = Sandbox(config or SandboxConfig.resolve(**settings)).start()
        _current = sandbox
        return sandbox


def _refuse_fixed_changes(running: SandboxConfig, asked: SandboxConfig, names: list[str]) -> None:
    """ValueError naming each setting in `names` that `asked` sets otherwise than `running` and that is fixed at start."""
    changed = [
        f"another {name}"
        if name in SECRETS
        else f"{name}={getattr(asked, name)!r} (it runs with {getattr(running, name)!r})"
        for name in names
        if name not in LIVE_SETTINGS and name != "environ" and getattr(asked, name) != getattr(running, name)
    ]
    if changed:
        raise ValueError(
            f"the sandbox is already running, and only {', '.join(LIVE_SETTINGS)} changes while it runs: not "
            f"{'; '.join(changed)}. Run sandbox_app.stop() first to start one with other settings."
        )


def _set_delay(sandbox: Sandbox, delay: float) -> None:
    """Set the running sandbox's debug mail server's delay (an outside mail server has none: only 0 fits it)."""
    if sandbox.mail_server is not None:
        sandbox.mail_server.configure(delay=delay)
    elif delay:
        raise ValueError("this sandbox sends to an outside mail server: it has no delay to set")


def current() -> Sandbox | None:
    """The running sandbox, or None."""
    return _current if _current is not None and _current.running else None


def stop() -> None:
    """Stop the running sandbox, if any."""
    sandbox = current()
    if sandbox is not None:
        sandbox.stop()


atexit.register(stop)

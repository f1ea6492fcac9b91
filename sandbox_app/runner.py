"""Start the app and the debug mail server in background threads: one call, re-run safe."""

from __future__ import annotations

import atexit
import errno
import os
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from flask import Flask

from . import create_app
from .http_server import WorkerPoolServer
from .mailserver import LOOPBACK, DebugMailServer
from .paths import state_dir

DEFAULT_WORKERS = 4
BACKGROUND_THREAD_PREFIX = "mail-"  # patterns name their sending threads so stop() can wait for them
_lock = threading.Lock()
_current: Sandbox | None = None


@dataclass
class Sandbox:
    """A running sandbox: the app's URL, the mail server, and `stop()`."""

    app: Flask
    mail_server: DebugMailServer
    http_server: WorkerPoolServer
    log_path: Path
    _thread: threading.Thread
    _log_handler: logging.Handler
    _stopped: bool = field(default=False)

    @property
    def host(self) -> str:
        """The loopback address both servers listen on."""
        return self.http_server.host

    @property
    def port(self) -> int:
        """The app's HTTP port."""
        return self.http_server.port

    @property
    def smtp_port(self) -> int:
        """The debug mail server's SMTP port."""
        return self.mail_server.port

    @property
    def url(self) -> str:
        """The app's base URL, ending in a slash."""
        return f"http://{self.host}:{self.port}/"

    @property
    def browser_url(self) -> str:
        """The URL a learner's browser can open: through the hub's proxy on JupyterHub, else `url`."""
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
        if prefix:
            return f"{prefix.rstrip('/')}/proxy/{self.port}/"
        return self.url

    @property
    def running(self) -> bool:
        """Whether the servers are up."""
        return not self._stopped

    def stop(self, timeout: float = 15.0) -> None:
        """Stop serving, let requests and background sends finish, then stop the mail server."""
        global _current
        if self._stopped:
            return
        deadline = time.monotonic() + timeout
        self.http_server.shutdown()  # serve_forever returns; requests in progress finish
        self._thread.join(max(0.0, deadline - time.monotonic()))
        finish_background_sends(self.app, max(0.0, deadline - time.monotonic()))
        self.mail_server.stop()
        self.app.logger.removeHandler(self._log_handler)
        self._log_handler.close()
        self._stopped = True
        with _lock:
            if _current is self:
                _current = None

    def read_log(self) -> list[str]:
        """The app's log lines so far (failed sends are logged here)."""
        if not self.log_path.exists():
            return []
        return self.log_path.read_text(encoding="utf-8").splitlines()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Sandbox {state}: app {self.url}, mail server {self.mail_server.address}>"


def finish_background_sends(app: Flask, timeout: float) -> None:
    """Run the app's stop hooks (a pool drains), then wait for the patterns' mail threads."""
    deadline = time.monotonic() + timeout
    for on_stop in app.extensions.get("sandbox_on_stop", []):
        on_stop()
    for thread in threading.enumerate():
        if thread.name.startswith(BACKGROUND_THREAD_PREFIX) and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))


def _attach_log_file(app: Flask, port: int, echo: bool) -> tuple[logging.Handler, Path]:
    """Send the app's log to a file, and to stderr only when asked (stray lines upset notebooks)."""
    from flask.logging import default_handler

    log_path = state_dir() / "logs" / f"sandbox-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    if not echo:
        app.logger.removeHandler(default_handler)
    app.logger.addHandler(handler)
    return handler, log_path


@contextmanager
def _naming_the_port(what: str, port: int):
    """Turn "address in use" into an error that says which server and port."""
    try:
        yield
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        raise OSError(error.errno, f"the {what} port {port} is already in use") from None


def start(
    *,
    host: str = LOOPBACK,
    port: int = 0,
    smtp_port: int = 0,
    smtp_delay: float | None = None,
    workers: int = DEFAULT_WORKERS,
    echo_log: bool = False,
    config: dict | None = None,
) -> Sandbox:
    """Start app + mail server on free loopback ports, or return the one already running.

    Calling it again returns the running sandbox (with `smtp_delay` applied if given),
    so a notebook cell that starts it can be re-run safely.
    """
    global _current
    with _lock:
        if _current is not None:
            if smtp_delay is not None:
                _current.mail_server.configure(delay=smtp_delay)
            return _current
        mail_server = DebugMailServer(smtp_port, delay=smtp_delay or 0.0)
        with _naming_the_port("mail server", smtp_port):
            mail_server.start()
        try:
            app = create_app(config, mail_server=mail_server)
            with _naming_the_port("app", port):
                http_server = WorkerPoolServer(host, port, app, workers)
        except BaseException:
            mail_server.stop()
            raise
        log_handler, log_path = _attach_log_file(app, http_server.port, echo_log)
        thread = threading.Thread(
            target=http_server.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox-http", daemon=True
        )
        thread.start()
        _current = Sandbox(app, mail_server, http_server, log_path, thread, log_handler)
        return _current


def current() -> Sandbox | None:
    """The running sandbox, or None."""
    return _current


def stop() -> None:
    """Stop the running sandbox, if any."""
    sandbox = _current
    if sandbox is not None:
        sandbox.stop()


atexit.register(stop)

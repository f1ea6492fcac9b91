"""Start the app and the debug mail server in background threads: one call, re-run safe."""

from __future__ import annotations

import atexit
import errno
import html
import os
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from flask import Flask

from .http_server import WAITRESS_LOGGER, AppServer
from .mailer.background import get_background
from .paths import state_dir
from .queue.consumer import ConsumerProcess
from .queue.mailqueue import MailQueue, get_queue
from .smtp.server import LOOPBACK, DebugMailServer
from .web.factory import create_app

DEFAULT_WORKERS = 4
_lock = threading.Lock()
_current: Sandbox | None = None
NOT_RUNNING = "start the sandbox first: run the first cell (it calls sandbox_app.start())"


class SandboxNotRunning(RuntimeError):
    """A sandbox was needed but none is running (never started, or stopped)."""

    def __init__(self, message: str = NOT_RUNNING) -> None:
        super().__init__(message)


@dataclass
class Sandbox:
    """A running sandbox: the app's URL, the mail server, and `stop()`."""

    app: Flask
    mail_server: DebugMailServer | None  # None when the app sends to an outside mail server
    http_server: AppServer
    log_path: Path
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
    def workers(self) -> int:
        """How many requests the app serves at once (waitress's worker threads)."""
        return self.http_server.workers

    @property
    def smtp_port(self) -> int:
        """The SMTP port the app sends to (the debug mail server's, unless an outside server was given)."""
        return self.app.config["MAIL_PORT"]

    @property
    def smtp_address(self) -> str:
        """host:port of the SMTP server the app sends to."""
        return f"{self.app.config['MAIL_SERVER']}:{self.app.config['MAIL_PORT']}"

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
        self.http_server.stop(max(0.1, deadline - time.monotonic()))  # requests in progress finish first
        get_background(self.app).finish(max(0.0, deadline - time.monotonic()))
        if self.mail_server is not None:
            self.mail_server.stop()
        self.app.logger.removeHandler(self._log_handler)
        WAITRESS_LOGGER.removeHandler(self._log_handler)
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
        return f"<Sandbox {state}: app {self.url}, mail server {self.smtp_address}>"

    @property
    def queue(self) -> MailQueue:
        """The app's durable mail queue."""
        return get_queue(self.app)

    def start_consumer(self, workers: int | None = None) -> ConsumerProcess:
        """Start the queue's consumer process, or return the running one; it stops with the sandbox."""
        if self._stopped:
            raise SandboxNotRunning()  # a consumer would outlive the sandbox it sends for
        return self.queue.start_consumer(workers)

    def stop_consumer(self) -> None:
        """Stop the consumer process gracefully: sends in progress finish, queued mail waits for the next one."""
        self.queue.stop_consumer()

    def _repr_html_(self) -> str:
        """In a notebook: a link the learner's browser can open (through the hub's proxy on a hub)."""
        if not self.running:
            return html.escape(repr(self))
        return (
            f'<a href="{html.escape(self.browser_url)}" target="_blank" rel="noopener">Open the mail sandbox</a>'
            f" <small>(app on port {self.port}, mail server {html.escape(self.smtp_address)})</small>"
        )


LOG_MAX_AGE = 7 * 24 * 3600  # seconds a sandbox's log is kept after its last line


def _remove_old_logs(folder: Path) -> None:
    """Delete sandbox logs untouched for a week: each run on a new port leaves one behind."""
    too_old = time.time() - LOG_MAX_AGE
    for log in folder.glob("sandbox-*.log"):
        try:
            if log.stat().st_mtime < too_old:
                log.unlink()
        except OSError:
            pass  # another learner's sandbox removed it first, or it is not ours to remove


def _attach_log_file(app: Flask, port: int, echo: bool) -> tuple[logging.Handler, Path]:
    """Send the app's log to a file, and to stderr only when asked (stray lines upset notebooks)."""
    from flask.logging import default_handler

    log_path = state_dir() / "logs" / f"sandbox-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    _remove_old_logs(log_path.parent)
    handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    if not echo:
        app.logger.removeHandler(default_handler)
    app.logger.addHandler(handler)
    WAITRESS_LOGGER.addHandler(handler)  # its warnings go to the log file, never into a notebook cell
    return handler, log_path


def parse_smtp_address(text: str) -> tuple[str, int]:
    """("host", port) from "host:port"; ValueError says what is wrong."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise ValueError(f"expected host:port with a port from 1 to 65535, got {text!r}")
    return host, int(port)


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
    smtp_server: str | None = None,
) -> Sandbox:
    """Start app + mail server on free loopback ports, or return the one already running.

    Calling it again returns the running sandbox (with `smtp_delay` applied if given),
    so a notebook cell that starts it can be re-run safely. With `smtp_server` ("host:port")
    the app sends to that outside server instead and no debug mail server starts.
    """
    global _current
    with _lock:
        if _current is not None:
            if smtp_delay is not None:
                if _current.mail_server is None:
                    raise ValueError("this sandbox sends to an outside mail server: it has no delay to set")
                _current.mail_server.configure(delay=smtp_delay)
            return _current
        if smtp_server is not None:
            if smtp_delay is not None:
                raise ValueError("smtp_delay needs the debug mail server; an outside smtp_server sets its own")
            mail_server = None
            smtp_host, smtp_port = parse_smtp_address(smtp_server)
            config = {**(config or {}), "MAIL_SERVER": smtp_host, "MAIL_PORT": smtp_port}
        else:
            mail_server = DebugMailServer(smtp_port, delay=smtp_delay or 0.0)
            with _naming_the_port("mail server", smtp_port):
                mail_server.start()
        try:
            app = create_app(config, mail_server=mail_server)
            with _naming_the_port("app", port):
                http_server = AppServer(host, port, app, workers)
        except BaseException:
            if mail_server is not None:
                mail_server.stop()
            raise
        log_handler, log_path = _attach_log_file(app, http_server.port, echo_log)
        http_server.start()
        _current = Sandbox(app, mail_server, http_server, log_path, log_handler)
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

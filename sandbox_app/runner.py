"""Start the app and the debug mail server in background threads: one call, re-run safe."""

from __future__ import annotations

import atexit
import errno
import html
import logging
import os
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from flask.logging import default_handler

from .children import ChildError
from .http_server import WAITRESS_LOGGER, AppServer
from .mailer.background import get_background
from .mailer.shared_stats import create_counters_file, remove_counters_file
from .mailer.stats import DeliveryStats, get_stats
from .paths import state_dir
from .queue.consumer import ConsumerProcess
from .queue.mailqueue import MailQueue, get_queue
from .queue.storage import new_queue_name
from .servers import DEFAULT_WORKERS, IN_PROCESS, ServerProcess, check_server
from .smtp.server import LOOPBACK, SMTP_USER, DebugMailServer
from .web.access import KEY_HEADER, KEY_PARAMETER
from .web.factory import create_app
from .web.mail_server import get_mail_server

_lock = threading.RLock()  # start() stops a sandbox it could not finish starting
_current: Sandbox | None = None
NOT_RUNNING = "start the sandbox first: run the first cell (it calls sandbox_app.start())"
KEY_ENV = "SANDBOX_KEY"  # a fixed key, for tools and tests
OPEN_ENV = "SANDBOX_OPEN"  # "1": no key and no SMTP AUTH, for a laptop that wants plain URLs
SMTP_PASSWORD_ENV = "SANDBOX_SMTP_PASSWORD"  # the login to an outside --smtp-server (user "sandbox")


class SandboxNotRunning(RuntimeError):
    """A sandbox was needed but none is running (never started, or stopped)."""

    def __init__(self, message: str = NOT_RUNNING) -> None:
        super().__init__(message)


class AppNotInProcess(RuntimeError):
    """The app runs in its own process(es): there is no app object in this one."""


@dataclass
class Sandbox:
    """A running sandbox: the app's URL, the mail server, and `stop()`.

    With `server="inprocess"` the app runs in this process's threads. Under another server it runs
    in its own process(es) (`app_process`), and this process keeps the debug mail server and a
    launcher app that shows it to them (`http_server`): the handle works the same, but `app` does not exist.
    """

    _app: Flask  # the app in this process: the one served, or (out of process) the launcher's
    mail_server: DebugMailServer | None  # None when the app sends to an outside mail server
    http_server: AppServer
    log_path: Path
    _log_handler: logging.Handler
    server: str = IN_PROCESS
    app_process: ServerProcess | None = None
    _stopped: bool = field(default=False)

    @property
    def app(self) -> Flask:
        """The Flask app object, when it runs in this process."""
        if self.app_process is not None:
            raise AppNotInProcess(
                f"the app runs under {self.server} in its own process(es): there is no app object here. "
                "Use sandbox.stats, sandbox.mail_server, sandbox.queue, or HTTP (sandbox.url)."
            )
        return self._app

    @property
    def in_process(self) -> bool:
        """Whether the app runs in this process (then its clients should not: they share its CPU and GIL)."""
        return self.app_process is None

    @property
    def stats(self) -> DeliveryStats:
        """The delivery counters every process of the app counts into (what /api/stats answers)."""
        return get_stats(self._app)

    @property
    def host(self) -> str:
        """The loopback address both servers listen on."""
        return self.http_server.host

    @property
    def port(self) -> int:
        """The app's HTTP port."""
        return self.app_process.port if self.app_process else self.http_server.port

    @property
    def workers(self) -> int:
        """Threads (inprocess, waitress) or processes (gunicorn) serving the app."""
        return self.app_process.workers if self.app_process else self.http_server.workers

    @property
    def smtp_port(self) -> int:
        """The SMTP port the app sends to (the debug mail server's, unless an outside server was given)."""
        return self._app.config["MAIL_PORT"]

    @property
    def smtp_address(self) -> str:
        """host:port of the SMTP server the app sends to."""
        return f"{self._app.config['MAIL_SERVER']}:{self._app.config['MAIL_PORT']}"

    @property
    def url(self) -> str:
        """The app's base URL, ending in a slash."""
        return f"http://{self.host}:{self.port}/"

    def memory_mb(self) -> float | None:
        """Memory of the app's own processes (out of process only; in process it shares this one's)."""
        return self.app_process.memory_mb() if self.app_process else None

    @property
    def key(self) -> str | None:
        """The key every request must carry (None when the sandbox was started open)."""
        return self._app.config["SANDBOX_KEY"]

    @property
    def auth_headers(self) -> dict[str, str]:
        """The header that carries the key, for HTTP clients other than a browser."""
        return {KEY_HEADER: self.key} if self.key else {}

    def link(self, path: str = "") -> str:
        """A URL of the app a browser can open once to be let in (the key trades for a cookie)."""
        return self.browser_url + path.lstrip("/") + (f"?{KEY_PARAMETER}={self.key}" if self.key else "")

    @property
    def smtp_login(self) -> tuple[str, str] | None:
        """(user, password) of the debug mail server's SMTP AUTH, or None when it lets anyone send."""
        server = self.mail_server
        return (SMTP_USER, server.key) if server is not None and server.key else None

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
        if self.app_process is not None:
            self.app_process.stop(max(0.1, deadline - time.monotonic()))  # its requests in progress finish
        self.http_server.stop(max(0.1, deadline - time.monotonic()))  # requests in progress finish first
        get_background(self._app).finish(max(0.0, deadline - time.monotonic()))
        if self.mail_server is not None:
            self.mail_server.stop()
        if self.server != IN_PROCESS:
            remove_counters_file(self._app.config["STATS_PATH"])
        self._app.logger.removeHandler(self._log_handler)
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
        where = "" if self.server == IN_PROCESS else f" under {self.server}"
        return f"<Sandbox {state}: app {self.url}{where}, mail server {self.smtp_address}>"

    @property
    def queue(self) -> MailQueue:
        """The app's durable mail queue."""
        return get_queue(self._app)

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
            f'<a href="{html.escape(self.link())}" target="_blank" rel="noopener">Open the mail sandbox</a>'
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
    workers: int | None = None,
    echo_log: bool = False,
    config: dict | None = None,
    smtp_server: str | None = None,
    smtp_password: str | None = None,
    key: str | None = None,
    open: bool | None = None,
    server: str = IN_PROCESS,
) -> Sandbox:
    """Start app + mail server on free loopback ports, or return the one already running.

    Calling it again returns the running sandbox (with `smtp_delay` applied if given),
    so a notebook cell that starts it can be re-run safely. With `smtp_server` ("host:port")
    the app sends to that outside server instead and no debug mail server starts (logging in as
    user "sandbox" with `smtp_password` if given). Every request must carry the key: `key`,
    else $SANDBOX_KEY, else a random one; `open=True` (or $SANDBOX_OPEN=1) turns the key and SMTP AUTH off.
    `server` runs the app in this process ("inprocess") or in its own under "waitress", "gunicorn-sync"
    or "gunicorn-gevent"; `workers` counts threads or processes (see sandbox_app.servers.WORKERS_ARE).
    """
    global _current
    with _lock:
        if _current is not None:
            if smtp_delay is not None:
                if _current.mail_server is None:
                    raise ValueError("this sandbox sends to an outside mail server: it has no delay to set")
                _current.mail_server.configure(delay=smtp_delay)
            return _current
        check_server(server)
        workers = workers or DEFAULT_WORKERS[server]
        if open is None:
            open = os.environ.get(OPEN_ENV) == "1"
        key = None if open else key or os.environ.get(KEY_ENV) or secrets.token_urlsafe(18)
        config = {**(config or {}), "SANDBOX_KEY": key}
        if smtp_server is not None:
            if smtp_delay is not None:
                raise ValueError("smtp_delay needs the debug mail server; an outside smtp_server sets its own")
            mail_server = None
            smtp_host, smtp_port = parse_smtp_address(smtp_server)
            config.update(MAIL_SERVER=smtp_host, MAIL_PORT=smtp_port)
            if smtp_password:
                config.update(MAIL_USERNAME=SMTP_USER, MAIL_PASSWORD=smtp_password)
        else:
            mail_server = DebugMailServer(smtp_port, delay=smtp_delay or 0.0, key=key)
            with _naming_the_port("mail server", smtp_port):
                mail_server.start()
            if key:
                config.update(MAIL_USERNAME=SMTP_USER, MAIL_PASSWORD=key)
        if server != IN_PROCESS:
            # Every process of the app counts into one file; the launcher reads it as /api/stats does.
            config["STATS_PATH"] = str(create_counters_file(state_dir() / f"stats-{secrets.token_hex(6)}.sqlite3"))
            config.setdefault("QUEUE_NAME", new_queue_name())  # one queue for the launcher and the app's processes
        try:
            app = create_app(config, mail_server=mail_server)
            # In process this app is the one served; out of process it serves the mail server's API to the app
            # on a port of its own, with 2 threads (the app's own port and workers go to its server process).
            own_port, threads = (port, workers) if server == IN_PROCESS else (0, 2)
            with _naming_the_port("app", own_port):
                http_server = AppServer(host, own_port, app, threads)
        except BaseException:
            if mail_server is not None:
                mail_server.stop()
            raise
        log_handler, log_path = _attach_log_file(app, http_server.port, echo_log)
        http_server.start()
        sandbox = Sandbox(app, mail_server, http_server, log_path, log_handler, server)
        if server != IN_PROCESS:
            try:
                sandbox.app_process = _start_app_process(server, host, port, workers, app, http_server, log_path)
            except BaseException:
                sandbox.stop()
                raise
        _current = sandbox
        return _current


def _start_app_process(server, host, port, workers, launcher_app, launcher_server, log_path) -> ServerProcess:
    """The app under `server` in its own process(es), sending to this sandbox's mail server and queue."""
    # What the queue's consumer gets (the mail server, its login, the queue), plus the key and the counters file.
    config = {**get_queue(launcher_app).consumer_config(), "SANDBOX_KEY": launcher_app.config["SANDBOX_KEY"],
              "STATS_PATH": launcher_app.config["STATS_PATH"]}  # fmt: skip
    if get_mail_server(launcher_app) is not None:
        config["MAIL_SERVER_API"] = f"http://{launcher_server.host}:{launcher_server.port}/api/"
    process_log = log_path.with_name(log_path.stem + f"-{server}.log")
    with _naming_the_port("app", port):
        process = ServerProcess(server, host, port, workers, config, process_log)
    try:
        return process.start()
    except ChildError as error:
        raise ServerStartError(str(error)) from None


class ServerStartError(RuntimeError):
    """The app's server process did not come up; the message ends with its log."""


def current() -> Sandbox | None:
    """The running sandbox, or None."""
    return _current


def stop() -> None:
    """Stop the running sandbox, if any."""
    sandbox = _current
    if sandbox is not None:
        sandbox.stop()


atexit.register(stop)

"""A sandbox: the app and the debug mail server, started and stopped as one, as aiosmtpd's Controller is."""

from __future__ import annotations

import errno
import html
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from flask import Flask

from .addresses import auth_headers, key_link
from .config import SandboxConfig
from .database.gate import CommitGate, get_gate
from .database.outbox_state import outbox_state
from .database.relays import OutboxRelays, RelayProcess, get_relays, serve_relays
from .http_server import AppServer
from .logs import SandboxLog
from .mailer.background import get_background
from .mailer.stats import DeliveryStats, close_stats, get_stats
from .processes.channel import LauncherChannel
from .processes.servers import ServerProcess, serving
from .queues.backend import QUEUES_AT_LAUNCHER, QueueBackend, WorkerProcess
from .queues.huey_queue import HueyBackend
from .queues.names import new_queue_name
from .queues.registry import FIRST_QUEUE, get_backend, serve_queues
from .smtp.remote import serve_mail_server
from .smtp.server import DebugMailServer
from .web.factory import create_app

NOT_RUNNING = "start the sandbox first: run the first cell (it calls sandbox_app.start())"
LAUNCHER_THREADS = 2  # out of process, this process's app only shows the mail server to the app's processes


class SandboxNotRunning(RuntimeError):
    """A sandbox was needed but none is running (never started, or stopped)."""

    def __init__(self, message: str = NOT_RUNNING) -> None:
        super().__init__(message)


class AppNotInProcess(RuntimeError):
    """The app runs in its own process(es): there is no app object in this one."""


@contextmanager
def naming_the_port(what: str, port: int):
    """Turn "address in use" into an error that says which server and port."""
    try:
        yield
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        raise OSError(error.errno, f"the {what} port {port} is already in use") from None


class Sandbox:
    """The app, its debug mail server and its queue, from one SandboxConfig: `start()`, `stop()`, or `with`.

    In process (`server="inprocess"`) the app runs in this process's threads. Under another server it runs
    in its own process(es) (`app_process`), and this process keeps the debug mail server, which the app's
    processes reach through the launcher's private channel (`channel`): the handle works the same, but
    `app` does not exist.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig.resolve()
        self.settings = self.config  # once started: with the ports, files and names decided then (`_settings_at_start`)
        self.mail_server: DebugMailServer | None = None  # None when the app sends to an outside mail server
        self.http_server: AppServer | None = None
        self.app_process: ServerProcess | None = None
        self.channel: LauncherChannel | None = None  # out of process: what the app's processes call here
        self._app: Flask | None = None
        self._log: SandboxLog | None = None
        self._running = False

    # -- lifecycle -------------------------------------------------------
    def start(self) -> Sandbox:
        """Start the mail server, the app and (out of process) the app's server; on any failure, stop what started."""
        if self._running:
            return self
        try:
            self._start()
        except BaseException:
            self._running = True  # so that stop() undoes what did start
            self.stop(timeout=5)
            raise
        self._running = True
        return self

    def _start(self) -> None:
        config = self.config
        if config.debug_mail_server:
            self.mail_server = DebugMailServer(config.smtp_port, delay=config.smtp_delay, key=config.key)
            with naming_the_port("mail server", config.smtp_port):
                self.mail_server.start()
        if not config.in_process:
            self.channel = LauncherChannel().start()
            if self.mail_server is not None:
                serve_mail_server(self.channel, self.mail_server)
        self.settings = self._settings_at_start()
        self._app = create_app(self.settings, mail_server=self.mail_server)
        # Every process of the app counts into this app's counters file, and uses its database (each made now,
        # unless the config named one).
        self.settings = replace(
            self.settings,
            stats_path=self._app.config["STATS_PATH"],
            database_url=self._app.config["SQLALCHEMY_DATABASE_URI"],
        )
        if self.channel is not None:
            serve_queues(self.channel, self._app)  # Redis and the queues' workers run here, for the app's processes
            serve_relays(self.channel, self._app, lambda: outbox_state(self._app, time.time()))  # and the outbox relays
        # In process this app is the one served; out of process it only shows the mail server to the app's
        # processes, on a port of its own (the app's port and workers go to its server process).
        port, threads = (config.port, config.workers) if config.in_process else (0, LAUNCHER_THREADS)
        with naming_the_port("app", port):
            self.http_server = AppServer(config.host, port, self._app, threads)
        self._log = SandboxLog(self._app, self.http_server.port, config.echo_log)
        self.http_server.start()
        if not config.in_process:
            self.app_process = self._start_app_process()

    def _settings_at_start(self) -> SandboxConfig:
        """The config with what is decided now: the mail server's port; out of process, the channel and the queue."""
        changes: dict = {}
        if self.mail_server is not None:
            changes["smtp_port"] = self.mail_server.port  # the config may have asked for any free one
        if self.channel is not None:
            changes.update(launcher_port=self.channel.port, launcher_authkey=self.channel.authkey)
        if not self.config.in_process:
            changes["queue_name"] = self.config.queue_name or new_queue_name()  # one queue for launcher and app
        return replace(self.config, **changes)

    def _start_app_process(self) -> ServerProcess:
        """The app under the configured server in its own process(es), sending to this sandbox's mail server."""
        # Redis and the queues' workers are started here, on first use: the app's processes ask over the channel.
        settings = self.settings.with_app_config({QUEUES_AT_LAUNCHER: True})
        log_path = self._log.path.with_name(self._log.path.stem + f"-{self.config.server}.log")
        with naming_the_port("app", settings.port):
            process = ServerProcess(settings, log_path, auth_headers(settings))
        return process.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop serving, let requests and background sends finish, then stop the mail server."""
        if not self._running:
            return
        self._running = False
        deadline = time.monotonic() + timeout
        left = lambda floor=0.1: max(floor, deadline - time.monotonic())
        if self.app_process is not None:
            self.app_process.stop(left())  # its requests in progress finish
        if self.channel is not None:
            self.channel.stop(left())  # after the app's processes: nothing calls it any more
            self.channel = None
        if self.http_server is not None:
            self.http_server.stop(left())  # requests in progress finish first
        if self._app is not None:
            get_background(self._app).finish(left(0.0))
            close_stats(self._app)  # and its file goes, once every process of the app has stopped
        if self.mail_server is not None:
            self.mail_server.stop()
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the servers are up."""
        return self._running

    # -- what it runs ----------------------------------------------------
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
    def server(self) -> str:
        """Where the app runs: "inprocess", or the server of its own process(es)."""
        return self.config.server

    @property
    def in_process(self) -> bool:
        """Whether the app runs in this process (then its clients should not: they share its CPU and GIL)."""
        return self.config.in_process

    @property
    def workers(self) -> int:
        """Threads (inprocess, waitress, gthread per process) or processes (gunicorn) serving the app."""
        return self.config.workers

    @property
    def serving(self) -> str:
        """What serves the app's requests, in words: "4 threads", "1 process"."""
        return serving(self.server, self.workers)

    @property
    def stats(self) -> DeliveryStats:
        """The delivery counters every process of the app counts into (what /api/stats answers)."""
        return get_stats(self._app)

    def backend(self, pattern: str) -> QueueBackend:
        """The queue backend of a pattern ("queue": Huey; "celery"; "rq"): its workers, what it holds."""
        return get_backend(pattern, self._app)

    @property
    def queue(self) -> HueyBackend:
        """The app's durable mail queue (Huey), the one lesson 10 starts with."""
        return self.backend(FIRST_QUEUE)

    def start_consumer(self, workers: int | None = None) -> WorkerProcess:
        """Start the queue's consumer process, or return the running one; it stops with the sandbox."""
        if not self._running:
            raise SandboxNotRunning()  # a consumer would outlive the sandbox it sends for
        return self.backend(FIRST_QUEUE).ensure_workers(workers)[0]

    def stop_consumer(self) -> None:
        """Stop the consumer process gracefully: sends in progress finish, queued mail waits for the next one."""
        self.stop_worker(FIRST_QUEUE)

    def start_worker(self, pattern: str, workers: int | None = None, **settings) -> list[WorkerProcess]:
        """(Re)start the workers of a queue ("queue": Huey's consumer; "celery"; "rq"), Redis first if needed.

        `settings` are Flask settings for the workers' app, e.g. QUEUE_SEND_ONCE=True or
        CELERY={"task_acks_late": True}; they stop with the sandbox.
        """
        if not self._running:
            raise SandboxNotRunning()  # a worker would outlive the sandbox it sends for
        return self.backend(pattern).start_workers(workers, settings)

    def stop_worker(self, pattern: str) -> None:
        """Stop a queue's workers gracefully: the sends under way finish, queued mail waits for the next ones."""
        self.backend(pattern).stop_workers()

    def running_workers(self, pattern: str) -> list[WorkerProcess]:
        """A queue's worker processes that are alive now (none started just to find out, nor Redis)."""
        return self.backend(pattern).running_workers()

    @property
    def relays(self) -> OutboxRelays:
        """The outbox relays: the processes that hand the outbox's mail to the queues."""
        return get_relays(self._app)

    def start_relay(self, count: int = 1, **settings) -> list[RelayProcess]:
        """(Re)start the outbox relays, `count` of them (one at most on SQLite), with Flask `settings` on top."""
        if not self._running:
            raise SandboxNotRunning()  # a relay would outlive the sandbox it relays for
        return self.relays.start(count, settings)

    def stop_relay(self) -> None:
        """Stop the outbox relays gracefully: the row under way is marked; the rest waits in the outbox."""
        self.relays.stop()

    @property
    def commit_gate(self) -> CommitGate:
        """The gate every commit of the app passes: `hold()` keeps commits open, as the mail server's `hold()`."""
        return get_gate(self.app)

    def memory_mb(self) -> float | None:
        """Memory of the app's own processes (out of process only; in process it shares this one's)."""
        return self.app_process.memory_mb() if self.app_process else None

    # -- where it is -----------------------------------------------------
    @property
    def host(self) -> str:
        """The loopback address the servers listen on."""
        return self.config.host

    @property
    def port(self) -> int:
        """The app's HTTP port."""
        return self.app_process.port if self.app_process else self.http_server.port

    @property
    def url(self) -> str:
        """The app's base URL, ending in a slash."""
        return f"http://{self.host}:{self.port}/"

    @property
    def key(self) -> str | None:
        """The key every request must carry (None when the sandbox was started open)."""
        return self.config.key

    @property
    def smtp_port(self) -> int:
        """The SMTP port the app sends to (the debug mail server's, unless an outside server was given)."""
        return self._app.config["MAIL_PORT"]

    @property
    def smtp_address(self) -> str:
        """host:port of the SMTP server the app sends to."""
        return f"{self._app.config['MAIL_SERVER']}:{self._app.config['MAIL_PORT']}"

    # -- what it said ----------------------------------------------------
    @property
    def log_path(self) -> Path:
        """The app's log file."""
        return self._log.path

    def read_log(self) -> list[str]:
        """The app's log lines so far (failed sends are logged here)."""
        return self._log.lines() if self._log else []

    def __repr__(self) -> str:
        if self.http_server is None:
            return f"<Sandbox not started: {self.server}>"
        state = "running" if self.running else "stopped"
        where = "" if self.in_process else f" under {self.server}"
        return f"<Sandbox {state}: app {self.url}{where}, mail server {self.smtp_address}>"

    def _repr_html_(self) -> str:
        """In a notebook: a link the learner's browser can open (through the hub's proxy on a hub)."""
        if not self.running:
            return html.escape(repr(self))
        return (
            f'<a href="{html.escape(key_link(self))}" target="_blank" rel="noopener">Open the mail sandbox</a>'
            f" <small>(app on port {self.port}, mail server {html.escape(self.smtp_address)})</small>"
        )

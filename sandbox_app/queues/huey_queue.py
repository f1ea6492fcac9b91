"""The queue pattern: the request puts the message on a durable Huey queue; a consumer process sends it.

Huey keeps the queue in SQLite (a file in the state folder, no server) or in Redis when QUEUE_URL
names one. The consumer is `huey_consumer`, started as its own process as production runs it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import ClassVar

from flask import Flask, current_app
from flask_mail import Message
from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from huey.exceptions import CancelExecution
from huey.signals import SIGNAL_EXECUTING, SIGNAL_INTERRUPTED
from huey.storage import RedisStorage, SqliteStorage

from ..config import SandboxConfig
from ..mailer import mail
from ..mailer.outcomes import describe_error, record_failure
from ..mailer.stats import get_stats
from ..paths import remove_sqlite_database, state_dir
from ..processes.env import report_ready
from .backend import STORAGE_ERRORS, QueueBackend, WorkerProcess, WorkersSetting, unavailable
from .delivery import import_path, is_temporary, run_call, send_once_guard
from .names import creator_pid, process_alive
from .redis_server import check_redis_url

PATTERN = "queue"
WORKER_MODULE = "sandbox_app.programs.huey_worker"  # its `huey`: what huey_consumer runs
DEFAULT_RETRIES = 3
DEFAULT_RETRY_DELAY = 1.0  # seconds before the first retry; doubled for each next one
IN_FLIGHT = "in_flight:"  # a counter in Huey's storage per consumer process: the tasks it runs now


# -- the code lessons show ---------------------------------------------------
def deliver(msg: Message) -> None:
    """The task, run in the consumer process: send one message; Huey retries a temporary failure later."""
    try:
        mail.send(msg)
    except Exception as error:
        if is_temporary(error):
            raise  # Huey puts the task back, to run after retry_delay (which doubles each time), while retries last
        raise CancelExecution(retry=False) from error  # permanent: never retried


def run_task(path: str, args: list) -> None:
    """The task for a queued call (`enqueue_call`), run in the consumer: as `deliver`, a temporary failure retried."""
    try:
        run_call(path, args)
    except Exception as error:
        if is_temporary(error):
            raise
        raise CancelExecution(retry=False) from error


def send_email(app: Flask, msg: Message) -> int:
    """Put the message on the queue (a write to SQLite or Redis) and answer at once."""
    huey_backend(app).enqueue(msg)
    return 202


def requeue_interrupted(huey: Huey) -> None:
    """On SIGTERM Huey stops at once and signals each task it interrupted; plain Huey then forgets it. Put it back."""

    @huey.signal(SIGNAL_INTERRUPTED)
    def put_back(signal_name, task, *args) -> None:
        huey.enqueue(task)  # sent again from the start: at least once, never lost (a send past DATA goes twice)


def consumer_huey(app: Flask) -> Huey:
    """The worker program: the app's Huey, for `huey_consumer <module>.huey`, reporting ready when its workers run."""
    huey = huey_backend(app).huey

    @huey.on_startup()
    def report_started() -> None:
        report_ready()  # each worker calls this; the first one counts

    if app.config.get("QUEUE_REQUEUE_INTERRUPTED", True):  # off: plain Huey, for lesson 13's comparison
        requeue_interrupted(huey)  # a send cut short by an immediate stop (SIGTERM) goes back on the queue
    count_outcomes(huey, app)
    return huey


# -- the sandbox's bookkeeping: counted through Huey's own signals and hooks -----------------------
def count_outcomes(huey: Huey, app: Flask) -> None:
    """In the consumer: count each failed run as retried or failed (the seam counts deliveries), and the runs
    under way per consumer."""
    in_flight = f"{IN_FLIGHT}{os.getpid()}"

    @huey.signal(SIGNAL_EXECUTING)
    def started(signal_name, task) -> None:
        huey.storage.incr(in_flight)

    @huey.signal(SIGNAL_INTERRUPTED)
    def interrupted(signal_name, task, *args) -> None:
        huey.storage.incr(in_flight, -1)

    @huey.post_execute()
    def counted(task, task_value, exception) -> None:
        huey.storage.incr(in_flight, -1)
        if exception is None:
            return  # delivered: counted by the seam beneath Flask-Mail
        if task.retries:  # Huey runs it again (task.retries counts down once it is put back)
            get_stats(app).retried(PATTERN, describe_error(exception))
        else:  # permanent (CancelExecution, raised from the SMTP error), or out of retries
            record_failure(PATTERN, exception.__cause__ or exception, app)


def huey_backend(app: Flask | None = None) -> HueyBackend:
    """The app's Huey backend (the current app's when none is given)."""
    return (app or current_app).extensions[HueyBackend.extension]


# -- where the mail waits ----------------------------------------------------
def sqlite_path(name: str) -> Path:
    """Where a SQLite queue lives: the per-user state folder, never the repository."""
    folder = state_dir() / "queues"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.sqlite3"


class WalSqliteStorage(SqliteStorage):
    """Huey's SQLite storage committing without an fsync each time (WAL with synchronous=NORMAL).

    A committed task survives the web process dying (the lesson's crash); only an OS crash or a
    power cut can lose the last commits. Skipping the fsync keeps an enqueue well under a millisecond.
    """

    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


def make_huey(name: str, url: str | None) -> Huey:
    """RedisHuey for a redis:// URL, else SqliteHuey in the state folder; results are not kept."""
    if url:
        return RedisHuey(name, url=check_redis_url(url), results=False)
    return SqliteHuey(name, filename=str(sqlite_path(name)), results=False, storage_class=WalSqliteStorage)


def read_counters(storage) -> dict[str, int]:
    """Every counter Huey's storage holds, in one read (incr(key, 0) would take SQLite's write lock per key)."""
    if isinstance(storage, SqliteStorage):
        return dict(storage.sql("select key, value from counter where queue = ?", (storage.name,), results=True))
    if isinstance(storage, RedisStorage):
        return {key.decode(): int(value) for key, value in storage.conn.hgetall(storage.counter_key).items()}
    return {}


def unsent_in(path: Path) -> int:
    """Tasks still in a SQLite queue file (queued or scheduled); 0 if it cannot be read."""
    try:
        with closing(sqlite3.connect(path, timeout=1)) as db:
            return sum(db.execute(f"select count(*) from {table}").fetchone()[0] for table in ("task", "schedule"))
    except sqlite3.Error:
        return 0


def sweep_leftovers(logger) -> None:
    """Remove the queue files and consumer logs of sandboxes whose process is gone (a killed kernel).

    Their mail was addressed to a debug mail server that died with that process; the count is logged.
    """
    for path in state_dir().glob("queues/mail-*.sqlite3"):
        pid = creator_pid(path.name)
        if pid is None or process_alive(pid):
            continue
        unsent = unsent_in(path)
        if unsent:
            logger.warning("queue %s: %d mail(s) left by a sandbox that is gone; discarded", path.stem, unsent)
        remove_sqlite_database(path)
    for path in state_dir().glob("logs/consumer-mail-*.log"):
        pid = creator_pid(path.name.removeprefix("consumer-"))
        if pid is not None and not process_alive(pid):
            path.unlink(missing_ok=True)


_swept = False  # leftovers of killed sandboxes are looked for once per process


# -- its consumer ---------------------------------------------------------------
class ConsumerProcess(WorkerProcess):
    """One `huey_consumer` process with thread workers; it stops itself if its parent goes away."""

    def __init__(self, settings: SandboxConfig, workers: int = 8) -> None:
        config = settings.flask_config()
        # SIGINT is Huey's graceful stop: the sends in progress finish.
        super().__init__(
            self.huey_command(workers, config.get("HUEY_OPTIONS", ())), settings, what="the queue consumer",
            name=f"consumer-{config['QUEUE_NAME']}", workers=workers, queue_name=config["QUEUE_NAME"],
            stop_signal=signal.SIGINT,
        )  # fmt: skip

    @staticmethod
    def huey_command(workers: int, options=()) -> list[str]:
        """The huey_consumer command line: thread workers polling often, no periodic tasks, then `options`."""
        return [
            sys.executable, "-m", "huey.bin.huey_consumer", f"{WORKER_MODULE}.huey",
            "--workers", str(workers), "--worker-type", "thread",
            # Poll an idle SQLite queue every 10-100 ms (Redis blocks on BRPOP instead).
            "--delay", "0.01", "--max-delay", "0.1", "--backoff", "1.5",
            "--no-periodic", *options,
        ]  # fmt: skip


# -- the backend -----------------------------------------------------------------
class HueyBackend(QueueBackend):
    """Huey: the queue in SQLite or Redis, one consumer process with thread workers."""

    pattern = PATTERN
    library = "Huey"
    send = staticmethod(send_email)
    extension: ClassVar[str] = "sandbox_huey"
    workers_setting = WorkersSetting(
        "QUEUE_WORKERS", "--queue-workers", 8, "threads of the consumer process", at_launch=True
    )

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        config = app.config
        self.queue_name = config["QUEUE_NAME"]
        # A name this process made up is its own; any other (given, or its launcher's) may have other users.
        self.shared = creator_pid(self.queue_name) != os.getpid()
        self.url = config.setdefault("QUEUE_URL", None)
        self.retries = config.setdefault("QUEUE_RETRIES", DEFAULT_RETRIES)
        self.retry_delay = config.setdefault("QUEUE_RETRY_DELAY", DEFAULT_RETRY_DELAY)
        app.extensions[self.extension] = self
        self._huey: Huey | None = None
        self._task = None
        self._call_task = None

    @property
    def huey(self) -> Huey:
        """The Huey instance, opened on first use (an app that never queues creates no file)."""
        with self._lock:  # four request threads may ask at once
            if self._huey is None:
                self._huey, self._task, self._call_task = self._open()
            return self._huey

    def _open(self):
        """A Huey instance for this queue and its tasks: `deliver` and `run_task`, inside this app's context."""
        self._sweep_once()
        huey = make_huey(self.queue_name, self.url)
        app = self.app

        def deliver_email(msg, queued_at=None):  # queued_at: read by oldest_queued_at, Huey keeps no time
            with app.app_context():
                # The send-once guard, when its marks are in the database (Huey's own queue may have no Redis).
                guard = send_once_guard() if app.config.get("QUEUE_SEND_ONCE") == "database" else None
                if guard is not None and guard.already_sent(msg.msgId):
                    app.logger.info("%s already sent: a redelivery, skipped", msg.msgId)
                    return
                deliver(msg)
                if guard is not None:
                    guard.mark(msg.msgId)  # after the send: a crash in between sends it again (the guard's window)

        def call_in_app(path, args, queued_at=None):  # queued_at: as deliver_email's
            with app.app_context():
                run_task(path, args)

        options = {"retries": self.retries, "retry_delay": self.retry_delay, "retry_backoff": 2}
        task = huey.task(**options, name="deliver_email")(deliver_email)
        call_task = huey.task(**options, name="run_call")(call_in_app)
        return huey, task, call_task

    def _sweep_once(self) -> None:
        """Before this app's queue is first used, clear what killed sandboxes left (logged in the app's log)."""
        global _swept
        if not self.shared and not _swept:
            _swept = True
            sweep_leftovers(self.app.logger)

    def opened(self) -> bool:
        """Whether the queue's storage is open here or exists (a SQLite file another process made counts)."""
        return self._huey is not None or self.url is not None or sqlite_path(self.queue_name).exists()

    @property
    def storage(self):
        """Huey's storage: the SQLite database or the Redis keys of this queue."""
        return self.huey.storage

    def enqueue(self, msg: Message) -> None:
        try:
            self.huey.enqueue(self._task.s(msg, queued_at=time.time()))
        except STORAGE_ERRORS as error:
            raise unavailable(error) from None

    def enqueue_call(self, function, *args) -> None:
        path = import_path(function)
        try:
            self.huey.enqueue(self._call_task.s(path, list(args), queued_at=time.time()))
        except STORAGE_ERRORS as error:
            raise unavailable(error) from None

    # Huey removes a task from the queue when a consumer takes it, and a retry waits in its schedule.
    def waiting(self) -> int:
        return self.huey.pending_count()

    def retries_scheduled(self) -> int:
        return self.huey.scheduled_count()

    def in_flight(self) -> int:
        # Huey keeps no record of a task once taken: each consumer counts its runs under way (count_outcomes),
        # and a consumer that died (SIGKILL) took its runs with it.
        counters = read_counters(self.storage)
        return sum(
            value for key, value in counters.items()
            if key.startswith(IN_FLIGHT) and process_alive(int(key.removeprefix(IN_FLIGHT)))
        )  # fmt: skip

    def oldest_queued_at(self) -> float | None:
        oldest = self.huey.pending(limit=1)
        return oldest[0].kwargs.get("queued_at") if oldest else None

    # -- its consumer ----------------------------------------------------------
    def make_processes(self, count: int, settings: SandboxConfig) -> list[WorkerProcess]:
        self._sweep_once()
        return [ConsumerProcess(settings, count)]

    @property
    def consumer(self) -> ConsumerProcess | None:
        """The consumer process this app started, if it runs."""
        running = self.running_workers()
        return running[0] if running else None

    def close(self) -> None:
        """Stop the consumer; remove this app's own queue, keep a shared one (a name from the config).

        Mail left unsent is logged either way: it is never dropped without a word.
        """
        super().close()
        made = self._huey is not None or self.used or (self.url is None and sqlite_path(self.queue_name).exists())
        if not made or (self.shared and self._huey is None):
            return  # nothing made, or another process's queue
        try:
            waiting = self.unsent()
        except STORAGE_ERRORS as error:
            self.app.logger.warning("queue %s: cannot check for waiting mail: %s", self.queue_name, error)
            return
        if self.shared:
            if waiting:
                self.app.logger.warning(
                    "queue %s: %d mail(s) still queued; kept for the next consumer", self.queue_name, waiting
                )
        else:
            if waiting:  # nobody else knows this queue's name: no consumer could ever send them
                self.app.logger.warning(
                    "queue %s: %d mail(s) never sent: no consumer ran; discarded", self.queue_name, waiting
                )
            self.storage.flush_all()
        self.storage.close()
        if self.url is None and not self.shared:
            remove_sqlite_database(sqlite_path(self.queue_name))
        self._huey = None

    def describe(self) -> str:
        consumer = self.consumer
        worker = f"consumer pid {consumer.pid}" if consumer else "no consumer started"
        return f"{self.queue_name} on {self.url or 'SQLite'} ({worker})"

    def legacy_state(self) -> dict:
        """GET /api/queue's keys from before the backends: where the queue lives, what waits, the consumer."""
        consumer = self.consumer
        return {
            "name": self.queue_name,
            "storage": self.url or "sqlite",
            "waiting": self.unsent() if self.opened() else 0,
            "consumer": {"pid": consumer.pid, "workers": consumer.workers} if consumer else None,
        }

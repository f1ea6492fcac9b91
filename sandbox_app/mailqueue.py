"""The app's durable mail queue: a Huey instance (SQLite by default, Redis when configured) and its counters."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

from flask import Blueprint, Flask, current_app
from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from huey.constants import EmptyData
from huey.storage import BaseStorage, RedisStorage, SqliteStorage
from redis.exceptions import RedisError
from werkzeug.exceptions import ServiceUnavailable

from .patterns import queue as queue_pattern
from .paths import state_dir

DEFAULT_WORKERS = 8
DEFAULT_RETRIES = 3
DEFAULT_RETRY_DELAY = 1.0  # seconds before the first retry; doubled for each next one
QUEUE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
STORAGE_ERRORS = (RedisError, sqlite3.Error, OSError)
COUNTER_FIELDS = ("accepted", "delivered", "failed", "retried")


_swept = False  # leftovers of killed sandboxes are looked for once per process


class QueueUnavailable(ServiceUnavailable):
    """The queue's storage (the SQLite file or the Redis server) cannot be reached: answered as 503."""


def this_host() -> str:
    """A short tag for this machine: a home folder shared by several machines keeps their queues apart."""
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]


def new_queue_name() -> str:
    """A queue name no other sandbox uses: two sandboxes never share a queue by accident."""
    return f"mail-{this_host()}-{os.getpid()}-{secrets.token_hex(4)}"


def check_queue_name(name: str) -> str:
    """The name if it can name a file and Redis keys, else ValueError."""
    if not isinstance(name, str) or not QUEUE_NAME.fullmatch(name):
        raise ValueError(f"queue name must be 1-64 letters, digits, '_', '.' or '-', got {name!r}")
    return name


def sqlite_path(name: str) -> Path:
    """Where a SQLite queue lives: the per-user state folder, never the repository."""
    folder = state_dir() / "queues"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.sqlite3"


def creator_pid(name: str) -> int | None:
    """The process on this machine that made up this queue name (see new_queue_name), else None."""
    match = re.match(r"mail-([0-9a-f]{6})-(\d+)-[0-9a-f]{8}\b", name)
    return int(match.group(2)) if match and match.group(1) == this_host() else None


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (on this machine, for this user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
    for path in state_dir().glob("logs/consumer-mail-*.log"):
        pid = creator_pid(path.name.removeprefix("consumer-"))
        if pid is not None and not process_alive(pid):
            path.unlink(missing_ok=True)


def make_huey(name: str, url: str | None) -> Huey:
    """RedisHuey for a redis:// URL, else SqliteHuey in the state folder; results are not kept."""
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"QUEUE_URL must be a redis:// URL (or unset for SQLite), got {url!r}")
        return RedisHuey(name, url=url, results=False)
    return SqliteHuey(name, filename=str(sqlite_path(name)), results=False, storage_class=WalSqliteStorage)


class WalSqliteStorage(SqliteStorage):
    """Huey's SQLite storage committing without an fsync each time (WAL with synchronous=NORMAL).

    A committed task survives the web process dying (the lesson's crash); only an OS crash or a
    power cut can lose the last commits. Skipping the fsync keeps an enqueue well under a millisecond.
    """

    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


def read_counters(storage: BaseStorage) -> dict[str, int]:
    """Every counter of the queue in one read (incr(key, 0) would take SQLite's write lock per key)."""
    if isinstance(storage, SqliteStorage):
        rows = storage.sql("select key, value from counter where queue = ?", (storage.name,), results=True)
        return dict(rows)
    if isinstance(storage, RedisStorage):
        return {key.decode(): int(value) for key, value in storage.conn.hgetall(storage.counter_key).items()}
    return {field: storage.incr(field, 0) for field in COUNTER_FIELDS}


class StoredCounters:
    """The queue pattern's counters, kept in the queue's storage so the consumer processes count too."""

    def __init__(self, mail_queue: MailQueue) -> None:
        self._queue = mail_queue

    def count(self, field: str, error: str | None = None) -> None:
        """Add one to `field` (atomic across processes); remember the error."""
        storage = self._queue.storage
        try:
            storage.incr(field)
            if error is not None:
                storage.put_data("last_error", error.encode())
        except STORAGE_ERRORS as storage_error:
            raise QueueUnavailable(f"queue unavailable: {type(storage_error).__name__}: {storage_error}") from None

    def read(self) -> dict:
        """The counters as in DeliveryStats; when the storage is down, None counts and the reason."""
        if not self._queue.exists():
            return {**dict.fromkeys(COUNTER_FIELDS, 0), "last_error": None}  # nothing queued yet: no file to make
        storage = self._queue.storage
        try:
            stored = read_counters(storage)
            last_error = storage.peek_data("last_error")
        except STORAGE_ERRORS as error:
            return {**dict.fromkeys(COUNTER_FIELDS), "last_error": f"queue unavailable: {type(error).__name__}: {error}"}
        counters: dict = {field: stored.get(field, 0) for field in COUNTER_FIELDS}
        counters["last_error"] = None if last_error is EmptyData else bytes(last_error).decode()
        return counters

    def reset(self) -> None:
        """Start from zero (for every process sharing this queue)."""
        if not self._queue.exists():
            return  # nothing counted yet, and no file to make for it
        storage = self._queue.storage
        try:
            storage.flush_counters()
            storage.delete_data("last_error")
        except STORAGE_ERRORS as error:
            raise QueueUnavailable(f"queue unavailable: {type(error).__name__}: {error}") from None


class MailQueue:
    """One app's queue: where messages wait, the task that sends them, and the consumer the runner starts."""

    def __init__(self, app: Flask) -> None:
        config = app.config
        self.app = app
        # A name given in the config may be shared with other processes; a made-up one is this app's alone.
        self.shared = bool(config.setdefault("QUEUE_NAME", None))
        self.name = check_queue_name(config["QUEUE_NAME"] or new_queue_name())
        config["QUEUE_NAME"] = self.name
        self.url = config.setdefault("QUEUE_URL", None)
        self.retries = config.setdefault("QUEUE_RETRIES", DEFAULT_RETRIES)
        self.retry_delay = config.setdefault("QUEUE_RETRY_DELAY", DEFAULT_RETRY_DELAY)
        self.workers = config.setdefault("QUEUE_WORKERS", DEFAULT_WORKERS)
        self.consumer = None  # the ConsumerProcess started for this app, if any
        self.consumer_started = False
        self._huey: Huey | None = None
        self._task = None
        self._lock = threading.Lock()

    @property
    def huey(self) -> Huey:
        """The Huey instance, opened on first use (an app that never queues creates no file)."""
        with self._lock:  # four request threads may ask at once
            if self._huey is None:
                self._huey, self._task = self._open()
            return self._huey

    def _open(self):
        """A Huey instance for this queue and the task it runs, `deliver` inside this app's context."""
        self._sweep_once()
        huey = make_huey(self.name, self.url)
        app = self.app

        def deliver_email(msg, task=None):
            with app.app_context():
                queue_pattern.deliver(msg, task)

        task = huey.task(
            retries=self.retries, retry_delay=self.retry_delay, retry_backoff=2, context=True, name="deliver_email"
        )(deliver_email)
        return huey, task

    def _sweep_once(self) -> None:
        """Before this app's queue is first used, clear what killed sandboxes left (logged in the app's log)."""
        global _swept
        if not self.shared and not _swept:
            _swept = True
            sweep_leftovers(self.app.logger)

    @property
    def opened(self) -> bool:
        """Whether this process has opened the queue's storage."""
        return self._huey is not None

    def exists(self) -> bool:
        """Whether the queue's storage is open here or exists (a SQLite file another process made counts)."""
        return self.opened or self.url is not None or sqlite_path(self.name).exists()

    @property
    def storage(self):
        """Huey's storage: the SQLite database or the Redis keys of this queue."""
        return self.huey.storage

    def enqueue(self, msg) -> None:
        """Store the message for a consumer; QueueUnavailable (503) when the storage cannot take it."""
        try:
            self.huey.enqueue(self._task.s(msg))
        except STORAGE_ERRORS as error:
            raise QueueUnavailable(f"queue unavailable: {type(error).__name__}: {error}") from None

    def waiting(self) -> int:
        """Messages not sent yet: queued, plus scheduled for a retry."""
        return self.huey.pending_count() + self.huey.scheduled_count()

    def consumer_config(self) -> dict:
        """What a consumer process needs to build the same app: the mail server and this queue."""
        keys = ("MAIL_SERVER", "MAIL_PORT", "MAIL_TIMEOUT", "MAIL_DEFAULT_SENDER", "QUEUE_NAME", "QUEUE_URL")
        return {key: self.app.config[key] for key in keys}

    def start_consumer(self, workers: int | None = None):
        """Start a consumer process for this queue, or return the one running (re-run safe)."""
        from .consumer import ConsumerProcess

        if self.consumer is None or not self.consumer.running:
            self._sweep_once()
            self.consumer = ConsumerProcess(self.consumer_config(), workers or self.workers).start()
            self.consumer_started = True  # it opened the storage, even if this process never did
        return self.consumer

    def stop_consumer(self, timeout: float = 15.0) -> None:
        """Stop the consumer gracefully: the sends in progress finish, the rest stay queued."""
        if self.consumer is not None:
            self.consumer.stop(timeout)
            self.consumer = None

    def close(self) -> None:
        """Stop the consumer; remove this app's own queue, keep a shared one (a name from the config).

        Mail left unsent is logged either way: it is never dropped without a word.
        """
        self.stop_consumer()
        made = self.opened or self.consumer_started or (self.url is None and sqlite_path(self.name).exists())
        if not made or (self.shared and not self.opened):
            return  # nothing made, or another process's queue
        try:
            waiting = self.waiting()
        except STORAGE_ERRORS as error:
            self.app.logger.warning("queue %s: cannot check for waiting mail: %s", self.name, error)
            return
        if self.shared:
            if waiting:
                self.app.logger.warning("queue %s: %d mail(s) still queued; kept for the next consumer", self.name, waiting)
        else:
            if waiting:  # nobody else knows this queue's name: no consumer could ever send them
                self.app.logger.warning("queue %s: %d mail(s) never sent: no consumer ran; discarded", self.name, waiting)
            self.storage.flush_all()
        self.storage.close()
        if self.url is None and not self.shared:
            path = sqlite_path(self.name)
            for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                leftover.unlink(missing_ok=True)
        self._huey = None

    def state(self) -> dict:
        """Where the queue lives, how much mail waits in it, and the consumer this app started."""
        consumer = self.consumer if self.consumer is not None and self.consumer.running else None
        return {
            "name": self.name,
            "storage": self.url or "sqlite",
            "waiting": self.waiting() if self.exists() else 0,
            "consumer": {"pid": consumer.pid, "workers": consumer.workers} if consumer else None,
        }


bp = Blueprint("queue", __name__, url_prefix="/api")


@bp.get("/queue")
def get_queue():
    """The queue's name and storage, the mail waiting in it, and this app's consumer process (or null)."""
    mail_queue = current_app.extensions["sandbox_queue"]
    try:
        return mail_queue.state()
    except STORAGE_ERRORS as error:
        raise QueueUnavailable(f"queue unavailable: {type(error).__name__}: {error}") from None


def init_app(app: Flask) -> MailQueue:
    """Give the app its queue: counted in the shared storage, shown at /api/queue, closed when the app stops."""
    mail_queue = MailQueue(app)
    app.extensions["sandbox_queue"] = mail_queue
    app.register_blueprint(bp)
    app.extensions["sandbox_stats"].share("queue", StoredCounters(mail_queue))
    app.extensions.setdefault("sandbox_on_stop", []).append(mail_queue.close)
    return mail_queue

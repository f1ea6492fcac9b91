"""Where queued mail waits: Huey on SQLite (in the per-user state folder) or Redis, and the sweep of leftovers."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
import sqlite3
from contextlib import closing
from pathlib import Path

from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from huey.storage import SqliteStorage
from redis.exceptions import RedisError
from werkzeug.exceptions import ServiceUnavailable

from ..paths import state_dir

QUEUE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
STORAGE_ERRORS = (RedisError, sqlite3.Error, OSError)


class QueueUnavailable(ServiceUnavailable):
    """The queue's storage (the SQLite file or the Redis server) cannot be reached: answered as 503."""


def unavailable(error: Exception) -> QueueUnavailable:
    """The 503 for a storage error, saying what went wrong."""
    return QueueUnavailable(f"queue unavailable: {type(error).__name__}: {error}")


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

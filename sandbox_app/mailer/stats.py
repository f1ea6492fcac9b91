"""Per-pattern delivery counters (accepted, delivered, failed, retried, last error) in one SQLite file per sandbox."""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import weakref
from pathlib import Path

from flask import Flask, current_app

from ..paths import remove_sqlite_database, state_dir

EXTENSION = "sandbox_stats"
FIELDS = ("accepted", "delivered", "failed", "retried")
# One row per (pattern, field): a count, or (field "last_error") the reason of the last failure.
SCHEMA = "create table if not exists counters (pattern text, field text, value, primary key (pattern, field))"
# A count adds one; the last error replaces the one before. One statement: one atomic step for every process.
COUNT = (
    "insert into counters (pattern, field, value) values {rows} on conflict (pattern, field) do update"
    " set value = case when field = 'last_error' then excluded.value else value + 1 end"
)


class DeliveryStats:
    """Every pattern's counters in the SQLite file STATS_PATH, which every process of a sandbox counts into.

    Web workers (gunicorn's processes) and queue workers each see only their share of the sends: one file
    adds them up. Autocommit: a count is one statement and its own transaction. WAL: /api/stats reads on
    while another process counts.
    """

    def __init__(self, path: Path, patterns: list[str], *, made_here: bool = False) -> None:
        self.path = Path(path)
        self.patterns = list(patterns)  # shown with zeros before anything counted them
        self.made_here = made_here  # this app created the file, and removes it when it closes
        self._db: sqlite3.Connection | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()  # one connection per process, shared by its threads one at a time

    def _execute(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        with self._lock:
            if self._pid != os.getpid():  # a connection must not cross a fork (gunicorn forks its workers)
                self._db = open_stats_file(self.path)
                self._pid = os.getpid()
                # An app nobody stopped (a test's, a notebook's) still closes it when collected: Python 3.13 warns
                # about a connection left open, and the suite turns warnings into errors.
                weakref.finalize(self, close_if_opened_here, self._db, self._pid)
            return self._db.execute(sql, parameters).fetchall()

    def _count(self, pattern: str, field: str, error: str | None = None) -> None:
        rows = [(pattern, field, 1), *([(pattern, "last_error", error)] if error is not None else [])]
        self._execute(COUNT.format(rows=", ".join(["(?, ?, ?)"] * len(rows))), tuple(v for row in rows for v in row))

    def accepted(self, pattern: str) -> None:
        """A request handed this pattern a valid message."""
        self._count(pattern, "accepted")

    def delivered(self, pattern: str) -> None:
        """The mail server accepted a message sent by this pattern."""
        self._count(pattern, "delivered")

    def failed(self, pattern: str, error: str) -> None:
        """A message sent by this pattern is lost for good."""
        self._count(pattern, "failed", error)

    def retried(self, pattern: str, error: str) -> None:
        """A send failed and will be tried again."""
        self._count(pattern, "retried", error)

    def snapshot(self) -> dict[str, dict]:
        """The counters as JSON-ready data, keyed by pattern: {accepted, delivered, failed, retried, last_error}."""
        snapshot = {pattern: zeros() for pattern in self.patterns}
        for pattern, field, value in self._execute("select pattern, field, value from counters"):
            snapshot.setdefault(pattern, zeros())[field] = value
        return snapshot

    def reset(self) -> None:
        """Start every counter from zero, for every process."""
        self._execute("delete from counters")

    def close(self) -> None:
        """Close this process's connection; remove the file if this app made it."""
        with self._lock:
            if self._db is not None and self._pid == os.getpid():
                self._db.close()
            self._db = self._pid = None
        if self.made_here:
            remove_sqlite_database(self.path)


def close_if_opened_here(db: sqlite3.Connection, pid: int) -> None:
    """Close `db` in the process that opened it; a forked child leaves its parent's connection alone, as close() does."""
    if os.getpid() == pid:
        db.close()


def zeros() -> dict:
    """A pattern's counters before anything counted."""
    return {**dict.fromkeys(FIELDS, 0), "last_error": None}


def open_stats_file(path: Path) -> sqlite3.Connection:
    """A connection to the counters file, made with its table if it is new."""
    db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    db.execute("pragma journal_mode=wal")  # kept in the file: only the first process changes it
    db.execute("pragma synchronous=normal")  # per connection: in WAL mode, no disk flush for every count
    db.execute(SCHEMA)
    return db


def init_stats(app: Flask, patterns: list[str]) -> DeliveryStats:
    """Give the app its counters, in the STATS_PATH file (made now in the state folder when the config names none)."""
    path = app.config.get("STATS_PATH")
    made_here = not path
    if made_here:
        path = app.config["STATS_PATH"] = str(state_dir() / f"stats-{secrets.token_hex(6)}.sqlite3")
    stats = DeliveryStats(path, patterns, made_here=made_here)
    stats.snapshot()  # opens the file now, with its table, before any worker process races to make it
    app.extensions[EXTENSION] = stats
    return stats


def get_stats(app: Flask | None = None) -> DeliveryStats:
    """The app's delivery counters (the current app's when none is given)."""
    return (app or current_app).extensions[EXTENSION]


def close_stats(app: Flask) -> None:
    """When the app stops: close its counters, and remove their file if the app made it."""
    get_stats(app).close()

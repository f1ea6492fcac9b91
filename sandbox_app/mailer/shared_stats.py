"""Delivery counters in a SQLite file, so that every worker process of one app counts into one place."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

FIELDS = ("accepted", "delivered", "failed", "retried")
SCHEMA = """
create table if not exists counter (pattern text, field text, value integer, primary key (pattern, field));
create table if not exists last_error (pattern text primary key, error text);
"""


class SqliteCounters:
    """One pattern's counters in a SQLite file shared by processes (gunicorn's workers and the launcher)."""

    def __init__(self, path: Path, pattern: str) -> None:
        self.path, self.pattern = Path(path), pattern
        self._local = threading.local()  # a sqlite3 connection belongs to the thread that made it

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            # Autocommit; each statement is its own short transaction. WAL lets readers go on while one writes.
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("pragma journal_mode=wal")
            db.execute("pragma synchronous=normal")
            db.executescript(SCHEMA)
            self._local.db = db
        return db

    def count(self, field: str, error: str | None = None) -> None:
        """Add one to `field` (atomic across processes); remember the error."""
        db = self._db()
        db.execute(
            "insert into counter values (?, ?, 1) on conflict (pattern, field) do update set value = value + 1",
            (self.pattern, field),
        )
        if error is not None:
            db.execute("insert or replace into last_error values (?, ?)", (self.pattern, error))

    def read(self) -> dict:
        """The counters, as DeliveryStats shows them."""
        db = self._db()
        stored = dict(db.execute("select field, value from counter where pattern = ?", (self.pattern,)).fetchall())
        error = db.execute("select error from last_error where pattern = ?", (self.pattern,)).fetchone()
        return {**{field: stored.get(field, 0) for field in FIELDS}, "last_error": error[0] if error else None}

    def reset(self) -> None:
        """Start from zero, for every process."""
        db = self._db()
        db.execute("delete from counter where pattern = ?", (self.pattern,))
        db.execute("delete from last_error where pattern = ?", (self.pattern,))


def remove_counters_file(path: Path) -> None:
    """Delete a counters file and its WAL companions once no process uses it."""
    for leftover in (Path(path), Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)


def create_counters_file(path: Path) -> Path:
    """Make the file with its tables before the workers start (they would race to create them)."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("pragma journal_mode=wal")
        db.executescript(SCHEMA)
    return Path(path)

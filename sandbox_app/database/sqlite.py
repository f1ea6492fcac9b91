"""SQLite as the sandbox's embedded database: its file, its connections' settings, and what its version allows."""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import threading

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from ..paths import state_dir

SQLITE_BUSY_SECONDS = 30  # a writer waits this long for another's transaction (SQLite has one writer at a time)
RETURNING_SINCE = (3, 35, 0)  # SQLite's first version with UPDATE ... RETURNING (the outbox relay's claim)


def made_up_sqlite_url() -> str:
    """A SQLite file of this sandbox's own in the state folder (two sandboxes never share one by accident)."""
    folder = state_dir() / "databases"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / f'sandbox-{secrets.token_hex(6)}.sqlite3'}"


def is_sqlite(app: Flask) -> bool:
    """Whether the app's database is SQLite (else PostgreSQL)."""
    return make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "sqlite"


def check_returning(version: str = sqlite3.sqlite_version) -> None:
    """RuntimeError in one line when the SQLite library Python links to is older than RETURNING (3.35)."""
    if tuple(int(part) for part in version.split(".")) < RETURNING_SINCE:
        raise RuntimeError(
            f"the outbox relay claims rows with UPDATE ... RETURNING, which needs SQLite 3.35 or newer; this Python "
            f"links SQLite {version} (whatever the Python version): use a newer Python build, or --database-url postgresql://..."
        )


# The statements before which Python's sqlite3 opens a transaction itself (its "DML"): the ones that write.
WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


class WriteTurns:
    """One lock per SQLite file for the write transactions of this process's threads (made anew in a forked child)."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, path: str) -> threading.Lock:
        """The lock of the file at `path`."""
        with self._guard:
            return self._locks.setdefault(os.path.realpath(path), threading.Lock())


_turns = WriteTurns()


def _new_turns_after_fork() -> None:
    # A lock a parent's thread held at the fork would stay held in the child, where that thread does not exist.
    global _turns
    _turns = WriteTurns()


os.register_at_fork(after_in_child=_new_turns_after_fork)


class OneWriterAtATime(sqlite3.Connection):
    """A SQLite connection whose write transactions take turns, with the process's other threads, on a lock.

    SQLite lets one transaction write at a time. A writer that finds the file locked waits in SQLite's busy handler,
    which tries again after sleeps that grow to 100 ms: a writer that comes later and finds the file free goes first,
    and an unlucky one sleeps through several turns (4 threads signing up: p99 37 to 86 ms, the slowest up to 0.96 s).
    Waiting on this lock, each thread is woken as soon as the writer before it has committed (p99 20 to 41 ms, the
    slowest 0.21 s at most); only the lock's holder meets another process's writer (the relay) in the busy handler.
    Given to sqlite3.connect as its `factory`.
    """

    def __init__(self, database, *args, timeout: float = 5.0, **kwargs) -> None:
        self._has_turn = False
        self._turn = _turns.lock(os.fsdecode(database))
        self._turn_timeout = timeout  # as long as SQLite's busy handler would wait
        super().__init__(database, *args, timeout=timeout, **kwargs)

    def cursor(self, factory=None):
        return super().cursor(factory or TurnTakingCursor)

    def execute(self, sql, parameters=()):  # sqlite3's own shortcut makes a plain cursor
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, seq_of_parameters):
        return self.cursor().executemany(sql, seq_of_parameters)

    def take_turn(self, sql: str) -> None:
        """Before a statement: wait for the turn to write if it writes, opening a transaction; OperationalError
        "database is locked", as SQLite's, if the turn does not come within the connection's timeout."""
        if self._has_turn or not WRITE.match(sql):
            return
        if not self._turn.acquire(timeout=self._turn_timeout):
            raise sqlite3.OperationalError("database is locked")
        self._has_turn = True

    def end_turn(self, *, unless_in_transaction: bool = False) -> None:
        """Let the next writer go: after COMMIT or ROLLBACK, or after a statement that left no transaction open."""
        if self._has_turn and not (unless_in_transaction and self.in_transaction):
            self._has_turn = False
            self._turn.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_turn(unless_in_transaction=True)  # a COMMIT refused (SQLITE_BUSY) leaves the transaction open

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_turn()


class TurnTakingCursor(sqlite3.Cursor):
    """A cursor that waits for its connection's turn before a statement that writes."""

    def execute(self, sql, parameters=()):
        self.connection.take_turn(sql)
        try:
            return super().execute(sql, parameters)
        finally:
            self.connection.end_turn(unless_in_transaction=True)  # a failed BEGIN, or autocommit: nothing held

    def executemany(self, sql, seq_of_parameters):
        self.connection.take_turn(sql)
        try:
            return super().executemany(sql, seq_of_parameters)
        finally:
            self.connection.end_turn(unless_in_transaction=True)


def connect_args() -> dict:
    """sqlite3.connect's arguments for the app's engine: a writer waits SQLITE_BUSY_SECONDS, its turn with the others."""
    return {"timeout": SQLITE_BUSY_SECONDS, "factory": OneWriterAtATime}


def wal_on_connect(engine: Engine) -> None:
    """Every SQLite connection in WAL mode (readers never wait for the writer), without an fsync per commit."""

    @event.listens_for(engine, "connect")
    def set_pragmas(connection, _record) -> None:
        cursor = connection.cursor()
        cursor.execute("pragma journal_mode=wal")
        cursor.execute("pragma synchronous=normal")
        cursor.close()

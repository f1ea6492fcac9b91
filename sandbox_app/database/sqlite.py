"""SQLite as the sandbox's embedded database: its file, its connections' settings, and what its version allows."""

from __future__ import annotations

import secrets
import sqlite3

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


def wal_on_connect(engine: Engine) -> None:
    """Every SQLite connection in WAL mode (readers never wait for the writer), without an fsync per commit."""

    @event.listens_for(engine, "connect")
    def set_pragmas(connection, _record) -> None:
        cursor = connection.cursor()
        cursor.execute("pragma journal_mode=wal")
        cursor.execute("pragma synchronous=normal")
        cursor.close()

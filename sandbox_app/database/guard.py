"""The send-once guard with its marks in the app's database: lesson 17's guard for any queue, Huey's too, with no Redis.

Checked before the send and marked after it, as the Redis guard (queues.delivery.RedisGuard): the same window.
"""

from __future__ import annotations

import importlib

from flask import Flask

from ..queues.delivery import DATABASE_GUARD
from .models import SentMail, db

# The dialect whose INSERT has ON CONFLICT, imported when a guard first marks: importing PostgreSQL's costs every
# process that never uses it (its dialect, and psycopg with it) a quarter of a second.
INSERTS = {"postgresql": "sqlalchemy.dialects.postgresql", "sqlite": "sqlalchemy.dialects.sqlite"}


class DatabaseGuard:
    """Marks as rows of `sent_mail`, keyed by Message-ID: `INSERT ... ON CONFLICT DO NOTHING` after the send."""

    def already_sent(self, message_id: str) -> bool:
        """Whether a copy of this mail was delivered and marked."""
        return db.session.get(SentMail, message_id) is not None

    def mark(self, message_id: str) -> None:
        """Note that this mail was delivered (the first mark stays)."""
        insert = importlib.import_module(INSERTS[db.engine.dialect.name]).insert
        db.session.execute(insert(SentMail).values(message_id=message_id).on_conflict_do_nothing())
        db.session.commit()


def init_guard(app: Flask) -> None:
    """Give the app its database guard, used when QUEUE_SEND_ONCE is "database"."""
    app.extensions[DATABASE_GUARD] = DatabaseGuard()

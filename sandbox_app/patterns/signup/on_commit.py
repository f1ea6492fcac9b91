"""`on_commit(callback)`: run a callback once the session's transaction has committed, as Django's `on_commit` does.

SQLAlchemy has no per-transaction callback, but its session events and `session.info` (a dict that lives with
the session) make one: the callbacks wait in `session.info`, run in `after_commit`, and are dropped on a rollback.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from ...database import db

CALLBACKS = "on_commit"


def on_commit(callback: Callable[[], None]) -> None:
    """Run `callback()` after the current transaction commits; never, if it rolls back."""
    db.session.info.setdefault(CALLBACKS, []).append(callback)


@event.listens_for(Session, "after_commit")
def run_callbacks(session: Session) -> None:
    # The transaction is over: this event may emit no SQL on this session, and a callback only queues work.
    for callback in session.info.pop(CALLBACKS, []):
        callback()


@event.listens_for(Session, "after_rollback")
def drop_callbacks(session: Session) -> None:
    # The database rolled back: what the callbacks announce never happened. (A savepoint's ROLLBACK TO fires this
    # event too, inside the nested transaction: the outer one, and its callbacks, live on.)
    if not session.in_nested_transaction():
        session.info.pop(CALLBACKS, None)


@event.listens_for(Session, "after_soft_rollback")
def drop_callbacks_after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    # session.rollback() after the database had already rolled back (a failed flush) fires this event only.
    # A savepoint's rollback leaves the outer transaction, and its callbacks, alive.
    if not previous_transaction.nested:
        session.info.pop(CALLBACKS, None)

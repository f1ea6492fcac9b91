"""The in-transaction way: the task is queued before the commit, as most code does. A worker may run it first."""

from __future__ import annotations

from ...database import User, db
from ...queues.registry import enqueue_task
from .welcome import rest_of_the_request, send_welcome, send_welcome_to


def sign_up(email: str, name: str, via: str) -> User:
    """Write the user, queue the task that reads it by id, commit."""
    user = User(email=email, name=name)
    db.session.add(user)
    db.session.flush()  # INSERT now: the user has an id, which no other connection sees before the commit
    enqueue_task(via, send_welcome, user.id)  # a worker may look for this id before the commit below
    rest_of_the_request(user)
    db.session.commit()
    return user


def sign_up_with_address(email: str, name: str, via: str) -> User:
    """The same, the task carrying the address instead of the id: it never looks, so it welcomes even a rollback."""
    user = User(email=email, name=name)
    db.session.add(user)
    db.session.flush()
    enqueue_task(via, send_welcome_to, email, name)
    rest_of_the_request(user)
    db.session.commit()
    return user

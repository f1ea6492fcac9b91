"""The after-commit way: the task is queued from the session's `after_commit` event, once the user is committed."""

from __future__ import annotations

from ...database import User, db
from ...queues.registry import enqueue_task
from .on_commit import on_commit
from .welcome import rest_of_the_request, send_welcome


def sign_up(email: str, name: str, via: str) -> User:
    """Write the user, ask for the task to be queued after the commit, commit."""
    user = User(email=email, name=name)
    db.session.add(user)
    db.session.flush()
    user_id = user.id  # read now: the commit expires the object's attributes
    on_commit(lambda: enqueue_task(via, send_welcome, user_id))  # a rollback drops it unrun
    rest_of_the_request(user)
    db.session.commit()  # the task is queued here, after COMMIT: a process killed just now never queues it
    return user

"""What every way shares: the welcome mail, the worker's tasks, and the rest of the request after the hand-over."""

from __future__ import annotations

from flask import g
from flask_mail import Message

from ...database import User, db
from ...mailer import mail


class LaterStepFailed(Exception):
    """A step of the sign-up after the mail was handed over failed: the transaction rolls back (answered 422)."""


def welcome_message(user: User) -> Message:
    """The welcome mail for a new user."""
    return Message("Welcome!", recipients=[user.email], body=f"Hello {user.name}, thank you for signing up.")


def send_welcome(user_id: int) -> None:
    """The task, run by a worker: read the user by id, as most code does, and welcome them."""
    user = db.session.get(User, user_id)
    if user is None:  # the request has not committed yet, or it rolled back: nobody to welcome
        raise LookupError(f"no user {user_id}: not committed yet, or rolled back")
    mail.send(welcome_message(user))


def send_welcome_to(email: str, name: str) -> None:
    """The task that carries the address: it reads nothing, so it welcomes whoever the request named."""
    mail.send(welcome_message(User(email=email, name=name)))


def rest_of_the_request(user: User) -> None:
    """The rest of a real sign-up after the mail was handed over (say, charging a card): it may still fail."""
    if g.get("fail_after_enqueue"):  # the request asked for it: {"fail_after_enqueue": true}
        raise LaterStepFailed(f"a later step of the sign-up of {user.email} failed: the transaction rolled back")

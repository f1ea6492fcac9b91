"""The inline way: the request sends the welcome mail itself, then commits. The timing baseline."""

from __future__ import annotations

from ...database import User, db
from ...mailer import mail
from .welcome import rest_of_the_request, welcome_message


def sign_up(email: str, name: str, via: str | None = None) -> User:
    """Write the user, send the welcome mail (the request waits for the mail server), commit."""
    user = User(email=email, name=name)
    db.session.add(user)
    db.session.flush()  # a duplicate address fails here, before any mail
    mail.send(welcome_message(user))  # sent: a rollback below cannot take it back
    rest_of_the_request(user)
    db.session.commit()
    return user

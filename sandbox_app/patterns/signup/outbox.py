"""The outbox way: the mail is a row written in the sign-up's own transaction; a relay hands it to the queue later."""

from __future__ import annotations

from ...database import OutboxMail, User, db
from .welcome import rest_of_the_request, welcome_message


def sign_up(email: str, name: str, via: str) -> User:
    """Write the user and the welcome mail, for the queue `via`, in one transaction."""
    user = User(email=email, name=name)
    db.session.add(user)
    db.session.flush()
    db.session.add(OutboxMail.of(welcome_message(user), queue=via))  # its Message-ID is fixed here
    rest_of_the_request(user)
    db.session.commit()  # the user and the mail are committed together, or neither is
    return user

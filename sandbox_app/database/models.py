"""The models the sign-up lessons use: a user who signs up, and the outbox, mail written in the same transaction."""

from __future__ import annotations

import time

from flask_mail import Message
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, ColumnElement, Float, Integer, String, Text, and_, or_
from sqlalchemy.orm import Mapped, mapped_column

from ..mailer.as_data import message_data

db = SQLAlchemy()


class User(db.Model):
    """Someone who signed up: one row per address."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float, default=time.time)

    def to_dict(self) -> dict:
        """The user as JSON-ready data."""
        return {"id": self.id, "email": self.email, "name": self.name, "created_at": self.created_at}


class OutboxMail(db.Model):
    """A mail to hand to a queue, written in the transaction that decided to send it; a relay hands it over.

    Its Message-ID is fixed when the row is written: every hand-over of this row carries the same one.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    queue: Mapped[str] = mapped_column(String(32))  # the queue it goes to, by pattern name: queue, celery, rq
    message: Mapped[dict] = mapped_column(JSON)  # mailer.as_data.message_data(msg)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[float] = mapped_column(Float, default=time.time, index=True)
    # The relay's bookkeeping: when it may be taken (later after a failed hand-over), who took it, when it went.
    available_at: Mapped[float] = mapped_column(Float, default=time.time)
    claimed_at: Mapped[float | None] = mapped_column(Float)
    claimed_by: Mapped[int | None] = mapped_column(Integer)  # the relay's pid
    handed_over_at: Mapped[float | None] = mapped_column(Float, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failed_at: Mapped[float | None] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(Text)

    @classmethod
    def of(cls, msg: Message, queue: str) -> OutboxMail:
        """The row for a mail to `queue`, its Message-ID fixed now (every hand-over of it carries this one)."""
        return cls(queue=queue, message=message_data(msg), message_id=msg.msgId)

    @classmethod
    def unsent(cls) -> ColumnElement[bool]:
        """Not handed over yet, and not given up on."""
        return and_(cls.handed_over_at.is_(None), cls.failed_at.is_(None))

    @classmethod
    def claimable(cls, now: float, lease: float) -> ColumnElement[bool]:
        """Waiting for a relay: unsent, due, and claimed by nobody (or by a relay whose lease ran out: it died)."""
        return and_(cls.unsent(), cls.available_at <= now, or_(cls.claimed_at.is_(None), cls.claimed_at < now - lease))


class SentMail(db.Model):
    """A mark of the send-once guard in the database: this Message-ID was delivered (database.guard)."""

    __tablename__ = "sent_mail"

    message_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    sent_at: Mapped[float] = mapped_column(Float, default=time.time)

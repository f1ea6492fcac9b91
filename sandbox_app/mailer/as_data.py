"""A message as plain data and back: what a queue whose tasks travel as JSON (Celery, RQ) can carry."""

from __future__ import annotations

from flask_mail import Message


def message_data(msg: Message) -> dict:
    """The message as JSON-ready data, its Message-ID included: fixed now, when the mail is queued."""
    return {
        "subject": msg.subject,
        "recipients": list(msg.recipients),
        "body": msg.body,
        "sender": msg.sender,
        "message_id": msg.msgId,
    }


def message_from(data: dict) -> Message:
    """The message again, in the worker, with the Message-ID it was queued with (every redelivery keeps it)."""
    msg = Message(data["subject"], recipients=data["recipients"], body=data["body"], sender=data["sender"])
    msg.msgId = data["message_id"]  # Message() drew a new one; the queued one is the mail's identity
    return msg

"""The queue pattern: the request puts the message on a durable Huey queue; a consumer process sends it."""

import smtplib

from flask import current_app
from huey.exceptions import CancelExecution

from ..mailer import describe_error, mail


def is_temporary(error: Exception) -> bool:
    """Whether trying again later may work: a 4xx reply, or a server that is down or busy."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500  # 421 busy, 451 try later; 5xx means never
    return isinstance(error, OSError)  # refused, reset, timed out (smtplib's disconnects are OSErrors)


def deliver(msg, task):
    """The task, run in the consumer process: send one message; Huey retries a temporary failure later."""
    stats = current_app.extensions["sandbox_stats"]
    try:
        mail.send(msg)
    except Exception as error:
        if task.retries and is_temporary(error):
            stats.retried("queue", describe_error(error))
            raise  # Huey puts the task back, to run after retry_delay (which doubles each time)
        stats.failed("queue", describe_error(error))
        current_app.logger.warning("queue: mail not delivered: %s", describe_error(error))
        raise CancelExecution(retry=False) from error  # permanent, or out of retries: give up
    stats.delivered("queue")


def send_email(app, msg):
    """Put the message on the queue (a write to SQLite or Redis) and answer at once."""
    app.extensions["sandbox_queue"].enqueue(msg)
    return 202

"""The queue pattern: the request puts the message on a durable Huey queue; a consumer process sends it."""

import smtplib

from huey.exceptions import CancelExecution

from ..mailer import mail
from ..mailer.outcomes import describe_error, record_failure
from ..mailer.stats import get_stats
from ..queue.mailqueue import get_queue


def is_temporary(error: Exception) -> bool:
    """Whether trying again later may work: a 4xx reply, a dropped line, or a server that is down or busy."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500  # 421 busy, 451 try later; 5xx (a refusal, a wrong password) never
    if isinstance(error, smtplib.SMTPServerDisconnected):
        # The line dropped. smtplib also closes it after a 421 reply, and Flask-Mail's quit() on the closed
        # line then raises this, hiding the 421 (still in error.__context__).
        return True
    if isinstance(error, smtplib.SMTPException):
        return False  # every SMTPException is an OSError: but "AUTH not supported" is the configuration's fault
    return isinstance(error, OSError)  # refused, reset, timed out


def deliver(msg, task):
    """The task, run in the consumer process: send one message; Huey retries a temporary failure later."""
    try:
        mail.send(msg)
    except Exception as error:
        if task.retries and is_temporary(error):
            get_stats().retried("queue", describe_error(error))
            raise  # Huey puts the task back, to run after retry_delay (which doubles each time)
        record_failure("queue", error)
        raise CancelExecution(retry=False) from error  # permanent, or out of retries: give up
    get_stats().delivered("queue")


def send_email(app, msg):
    """Put the message on the queue (a write to SQLite or Redis) and answer at once."""
    get_queue(app).enqueue(msg)
    return 202

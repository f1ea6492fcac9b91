"""One queued mail sent in a worker (Celery, RQ): rebuilt from data, a temporary error tried again, sent once if asked."""

from __future__ import annotations

import time

from flask import current_app

from ..mailer import mail
from ..mailer.as_data import message_from
from ..mailer.outcomes import describe_error, record_failure
from ..mailer.stats import get_stats
from ..queue.broker import get_broker
from .queue import is_temporary
from .send_once import RedisGuard

RETRY_DELAYS = (1, 2, 4)  # seconds before each retry of a temporary failure, as the Huey queue waits


def send_once_guard() -> RedisGuard | None:
    """The guard that skips a mail already sent, when the app asks for it (QUEUE_SEND_ONCE), else None."""
    if not current_app.config.get("QUEUE_SEND_ONCE"):
        return None
    return RedisGuard(get_broker().client(), prefix=f"{current_app.config['QUEUE_NAME']}:sent:")


def send_queued(pattern: str, data: dict, *, retries_left: int, guard=None) -> bool:
    """Send the mail in `data` (inside an app context); True when a temporary error should be tried again."""
    msg = message_from(data)
    if guard is not None and guard.already_sent(msg.msgId):
        current_app.logger.info("%s: %s already sent: a redelivery, skipped", pattern, msg.msgId)
        return False
    try:
        mail.send(msg)
    except Exception as error:
        if retries_left > 0 and is_temporary(error):
            get_stats().retried(pattern, describe_error(error))
            return True
        record_failure(pattern, error)  # permanent, or out of retries: counted and logged, never dropped silently
        return False
    if guard is not None:
        guard.mark(msg.msgId)  # after the send: a crash in between sends it again (the guard's window)
    get_stats().delivered(pattern)
    # The rest of a real task's work after the mail went out (a database write, say): where a crash lands late.
    time.sleep(current_app.config.get("QUEUE_TASK_TAIL", 0))
    return False

"""What every queue's task shares: which failures to try again, and (Celery, RQ) one queued mail sent once if asked.

The send-once guard, checked before the send and marked after it. The window, honestly: a task that
dies (or whose reply comes late) between the send and the mark has no mark, and its redelivery sends
the mail again. Two runs of a task at once both pass the check: ClaimingGuard's claim lets one send.
"""

from __future__ import annotations

import errno
import importlib
import smtplib
import time
from collections.abc import Callable

from flask import current_app

from ..mailer import mail
from ..mailer.as_data import message_from
from .redis_server import shared_redis

CALLABLE_PACKAGE = "sandbox_app."  # a queued call names a function of the course's own code, nothing else
RETRY_DELAYS = (1, 2, 4)  # seconds before each retry of a temporary failure, as the Huey queue waits
MARK_SECONDS = 7 * 24 * 3600  # how long a mark is kept: longer than any redelivery can come
# How long a claim (ClaimingGuard) holds a send: more than a send takes here (lesson 17's mail server holds one
# about 3 s), and less than the retries wait in all (1 + 2 + 4 s): the claim of a run that died, or whose send
# failed, refuses the retries that come before it expires, and the last one must come after.
CLAIM_SECONDS = 6
# Where an app keeps the guard whose marks are rows of its own database (sandbox_app.database.guard), for
# QUEUE_SEND_ONCE="database": any queue, Huey's on SQLite too, with no Redis.
DATABASE_GUARD = "sandbox_send_once_database_guard"


def is_temporary(error: BaseException) -> bool:
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


class RedisGuard:
    """Marks in Redis: `SET sent:<Message-ID> 1 NX EX <seconds>` after the send, `EXISTS` before it."""

    def __init__(self, redis, prefix: str = "sent:") -> None:
        self.redis, self.prefix = redis, prefix

    def already_sent(self, message_id: str) -> bool:
        """Whether a copy of this mail was delivered and marked."""
        return bool(self.redis.exists(self.prefix + message_id))

    def mark(self, message_id: str) -> None:
        """Note that this mail was delivered (NX: the first mark stays; EX: it expires)."""
        self.redis.set(self.prefix + message_id, 1, nx=True, ex=MARK_SECONDS)


class SendInProgress(BlockingIOError):
    """Another run of the task holds the claim on this mail: it may be sending it now.

    A claim taken without waiting, and refused, as a non-blocking call is (EALREADY): an OSError, so the
    queue tries the task again later (is_temporary).
    """


class ClaimingGuard(RedisGuard):
    """A RedisGuard that also claims each mail before its send, `SET claim:<Message-ID> 1 NX EX <seconds>`:
    of two runs at once, one sends and the other is tried again later."""

    def __init__(
        self, redis, prefix: str = "sent:", claims: str = "claim:", claim_seconds: int = CLAIM_SECONDS
    ) -> None:
        super().__init__(redis, prefix)
        self.claims, self.claim_seconds = claims, claim_seconds

    def already_sent(self, message_id: str) -> bool:
        """Whether a copy of this mail was delivered and marked; if not, claim its send (SendInProgress if taken)."""
        if super().already_sent(message_id):
            return True
        # Never deleted, only expired: deleted at the mark, it would let in a run that checked just before the mark.
        if not self.redis.set(self.claims + message_id, 1, nx=True, ex=self.claim_seconds):
            raise SendInProgress(errno.EALREADY, f"another run is sending {message_id}")
        return False


def send_once_guard() -> RedisGuard | None:
    """The guard that skips a mail already sent, when the app asks for it (QUEUE_SEND_ONCE: True for marks in Redis,
    "claim" for those and a claim before each send, "database" for marks in the app's database), else None."""
    mode = current_app.config.get("QUEUE_SEND_ONCE")
    if not mode:
        return None
    if mode == "database":
        return current_app.extensions[DATABASE_GUARD]
    queue, redis = current_app.config["QUEUE_NAME"], shared_redis(current_app).client()
    if mode == "claim":
        return ClaimingGuard(redis, prefix=f"{queue}:sent:", claims=f"{queue}:claim:")
    return RedisGuard(redis, prefix=f"{queue}:sent:")


def send_queued(data: dict, guard: RedisGuard | None = None) -> None:
    """Send the mail in `data` (inside an app context), unless the guard says a copy of it went out already.

    A failure is raised: the task's queue tries a temporary one again (see is_temporary).
    """
    msg = message_from(data)
    if guard is not None and guard.already_sent(msg.msgId):
        current_app.logger.info("%s already sent: a redelivery, skipped", msg.msgId)
        return
    mail.send(msg)
    if guard is not None:
        guard.mark(msg.msgId)  # after the send: a crash in between sends it again (the guard's window)
    # The rest of a real task's work after the mail went out (a database write, say): where a crash lands late.
    time.sleep(current_app.config.get("QUEUE_TASK_TAIL", 0))


def import_path(function: Callable) -> str:
    """Where a worker finds `function`: "module:qualified.name" (a task's arguments travel as data, not code)."""
    path = f"{function.__module__}:{function.__qualname__}"
    if not path.startswith(CALLABLE_PACKAGE) or "<" in path:
        raise ValueError(f"a queued call runs a module-level function of sandbox_app, not {path!r}")
    return path


def run_call(path: str, args: list) -> None:
    """In a worker, inside an app context: run the function `import_path` named with `args`."""
    if not path.startswith(CALLABLE_PACKAGE):
        raise ValueError(f"refusing to run {path!r}: not a function of sandbox_app")
    module, _, name = path.partition(":")
    function = importlib.import_module(module)
    for part in name.split("."):
        function = getattr(function, part)
    function(*args)

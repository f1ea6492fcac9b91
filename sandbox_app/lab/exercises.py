"""Exercise checks shared by lessons: the learner's own background sender, run against the real app and mail server."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from flask_mail import Message

from ..examples import DEFAULT_EMAIL
from ..sandbox import Sandbox
from ..waiting import wait_until
from .faults import REFUSE_EVERY_RECIPIENT, mail_server_settings, thread_exceptions
from .running import reset, running_sandbox
from .threads import error_text

EXERCISE_SUBJECT = "exercise"


@dataclass
class Check:
    """One thing the learner's code must do, whether it did, and what to look at when it did not."""

    what: str
    passed: bool
    hint: str = ""


@dataclass
class Report:
    """The checks of one exercise, printed as [OK] / [--] lines; deterministic (no timings in the text)."""

    title: str
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(check.passed for check in self.checks)

    def __repr__(self) -> str:
        lines = [self.title]
        for check in self.checks:
            lines.append(f"  [{'OK' if check.passed else '--'}] {check.what}")
            if not check.passed and check.hint:
                lines.append(f"       hint: {check.hint}")
        lines.append("All checks pass." if self.passed else "Not yet: change your code and run this cell again.")
        return "\n".join(lines)


class _Collect(logging.Handler):
    """Keeps the records logged while it is attached."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def app_warnings(app):
    """The warnings the app logs during the block (they still go to the sandbox's log as well)."""
    handler = _Collect()
    app.logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        app.logger.removeHandler(handler)


def exercise_message(number: int) -> Message:
    """The exercise's mail number `number`, counted by its subject."""
    return Message(f"{EXERCISE_SUBJECT} #{number}", recipients=[DEFAULT_EMAIL["to"]], body=DEFAULT_EMAIL["body"])


def _call_in_request(app, send_email, count: int) -> tuple[list, list[float], BaseException | None]:
    """Call `send_email(app, msg)` `count` times as the send route does; statuses, seconds per call, what it raised."""
    statuses, seconds = [], []
    with app.test_request_context("/send/exercise", method="POST"):
        for number in range(count):
            msg = exercise_message(number)  # built in the request, as the route builds it
            started = time.perf_counter()
            try:
                statuses.append(send_email(app, msg))
            except Exception as error:  # the learner's code: shown as a hint, not as a traceback
                return statuses, seconds, error
            seconds.append(time.perf_counter() - started)
    return statuses, seconds, None


def _arrived(server) -> int:
    return sum(1 for m in server.messages if m.subject.startswith(EXERCISE_SUBJECT))


POOL_LOG_HINT = "give the future a done callback that logs future.exception() with app.logger.warning"
THREAD_LOG_HINT = "catch the exception around mail.send in the thread and log it with app.logger.warning"


def check_pool_sender(sandbox: Sandbox, send_email, *, sends: int = 4, delay: float = 0.1) -> Report:
    """Check a pool's `send_email(app, msg)`: fast, delivered, and failures logged (see check_background_sender)."""
    return check_background_sender(sandbox, send_email, sends=sends, delay=delay, log_hint=POOL_LOG_HINT)


def check_thread_sender(sandbox: Sandbox, send_email, *, sends: int = 4, delay: float = 0.1) -> Report:
    """Check a threaded `send_email(app, msg)`: fast, delivered, and failures logged (see check_background_sender)."""
    return check_background_sender(sandbox, send_email, sends=sends, delay=delay, log_hint=THREAD_LOG_HINT)


def check_background_sender(
    sandbox: Sandbox, send_email, *, sends: int = 4, delay: float = 0.1, log_hint: str = POOL_LOG_HINT
) -> Report:
    """Check a `send_email(app, msg)` that sends in the background: fast, delivered, and failures logged.

    First `sends` mails to a healthy mail server taking `delay` per message, then 2 to one that refuses
    every recipient (550): each failure must reach the app's log, where someone will read it. What the
    learner's threads raise is caught and shown as a hint, never as a traceback in a later cell.
    """
    sandbox = running_sandbox(sandbox)
    app, server = sandbox.app, sandbox.mail_server
    report = Report(f"Checked with {sends} mails against the sandbox's mail server ({delay * 1000:g} ms per message):")
    reset(sandbox, settle=())
    with mail_server_settings(sandbox, delay=delay), thread_exceptions() as raised:
        statuses, seconds, error = _call_in_request(app, send_email, sends)
        if error is not None:
            report.checks.append(Check("send_email runs", False, f"it raised {error_text(error)}"))
            return report
        report.checks.append(Check(
            "answers without waiting for the mail server (each call under a quarter of its delay)",
            all(s < delay / 4 for s in seconds), "is mail.send still called in the request's own thread?",
        ))  # fmt: skip
        report.checks.append(Check(
            "answers 202 Accepted, the work taken on but not done", statuses == [202] * sends,
            f"it returned {statuses[0]!r}" if statuses else "",
        ))  # fmt: skip
        with suppress(TimeoutError):  # sent one after another, they would all be in by now, with room to spare
            wait_until(lambda: _arrived(server) >= sends, sends * delay + 0.5, "the exercise's mail")
    arrived = _arrived(server)
    hint = "nothing was printed: an exception in a pool thread waits in its future. Has the thread an app context?"
    if raised:
        hint = f"a thread raised {error_text(raised[0].exc_value).splitlines()[0]}"
    report.checks.append(Check(f"every mail arrives ({arrived} of {sends})", arrived == sends, hint))

    with (
        mail_server_settings(sandbox, delay=0.0, faults=REFUSE_EVERY_RECIPIENT),
        app_warnings(app) as warnings,
        thread_exceptions(),
    ):
        _call_in_request(app, send_email, 2)
        with suppress(TimeoutError):
            wait_until(lambda: len(warnings) >= 2, 1.0, "the failures in the app's log")
    report.checks.append(Check(
        f"each failure reaches the app's log ({min(len(warnings), 2)} of 2 logged)", len(warnings) >= 2, log_hint
    ))  # fmt: skip
    return report

"""Lesson 17's exercise: a learner's send-once guard, checked with real sends to the sandbox's mail server."""

from __future__ import annotations

import smtplib
from collections import Counter

from flask_mail import Message

from ...examples import DEFAULT_EMAIL
from ...mailer.as_data import message_data
from ...queues.delivery import is_temporary, send_queued
from ...queues.rq_queue import PATTERN as SEND_ONCE_QUEUE
from ..exercises import Check, Report
from ..faults import TRY_AGAIN_LATER, mail_server_settings
from ..running import reset, running_sandbox
from ..threads import error_text

SUBJECT = "guard exercise"


def copies_by_id(sandbox) -> Counter:
    """How many copies of each exercise mail the mail server kept, by Message-ID."""
    return Counter(m.header("Message-ID") for m in sandbox.mail_server.messages if m.subject.startswith(SUBJECT))


def _mail(number: int) -> dict:
    """A queued mail as a task carries it: its Message-ID fixed now, the same subject and recipient every time."""
    return message_data(Message(f"{SUBJECT} #{number}", recipients=[DEFAULT_EMAIL["to"]], body=DEFAULT_EMAIL["body"]))


def _runs(guard, data: dict, times: int) -> list[bool]:
    """Run the queue's send `times` for one mail, as redeliveries do; whether each failed and asked for a retry."""
    asked = []
    for _ in range(times):
        try:
            send_queued(data, guard)
        except (smtplib.SMTPException, OSError) as error:  # the mail server's answer; the guard's errors go on up
            asked.append(is_temporary(error))
        else:
            asked.append(False)
    return asked


def check_send_once_guard(sandbox, guard_class) -> Report:
    """Check `guard_class(redis)` (already_sent, mark) in the queue's send, with the sandbox's Redis and mail server."""
    sandbox = running_sandbox(sandbox)
    reset(sandbox, settle=())
    redis = sandbox.backend(SEND_ONCE_QUEUE).redis.client()  # the Redis the guard keeps its marks in
    before = set(redis.keys("*"))
    report = Report("Checked with real sends to the sandbox's mail server, marks in its Redis:")
    try:
        guard = guard_class(redis)
        with sandbox.app.app_context():
            first, second, failing = _mail(1), _mail(2), _mail(3)
            _runs(guard, first, 3)
            second["subject"] = first["subject"]  # another mail that reads the same: only its ID differs
            _runs(guard, second, 1)
            with mail_server_settings(sandbox, faults=TRY_AGAIN_LATER):
                retry_asked = _runs(guard, failing, 1)
            _runs(guard, failing, 1)  # the retry, once the mail server takes mail again
    except Exception as raised:  # the learner's code
        report.checks.append(Check("your guard ran", False, f"it raised {error_text(raised)}"))
        return report
    received = copies_by_id(sandbox)
    first_id, second_id, failing_id = (mail["message_id"] for mail in (first, second, failing))
    marks = set(redis.keys("*")) - before
    report.checks += [
        Check("a mail run three times (two redeliveries) arrives once", received[first_id] == 1,
              "already_sent must say True once mark() has run for that Message-ID"),
        Check("another mail with the same subject and recipient still goes out", received[second_id] == 1,
              "key the mark by the Message-ID: two mails may read the same"),
        Check("a mail whose send failed goes out on its retry", retry_asked == [True] and received[failing_id] == 1,
              "mark only in mark(), which runs once the mail server took the mail: not in already_sent"),
        Check("every mark expires (a time to live)", bool(marks) and all(redis.ttl(key) > 0 for key in marks),
              "set the key with an expiry (ex=...): a mark kept forever is memory Redis never gets back"),
    ]  # fmt: skip
    if marks:
        redis.delete(*marks)
    reset(sandbox, settle=())
    return report

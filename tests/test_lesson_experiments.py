"""Lessons' newer experiments at test size: the response split, the exercise checks, a client gone before its greeting.

The consumer stops of lesson 13 (SIGINT, SIGTERM, SIGKILL) run once per suite, in its notebook, where nbval
compares the verdicts.
"""

import smtplib
import socket
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from helpers import eventually

from sandbox_app.lab import bench, measure_send
from sandbox_app.lab.exercises import check_pool_sender
from sandbox_app.lab.send_failures import check_is_temporary
from sandbox_app.mailer import mail
from sandbox_app.queues.delivery import is_temporary
from sandbox_app.smtp.loopback import LOOPBACK
from sandbox_app.smtp.server import DebugMailServer

DELAY = 0.1


def test_each_response_splits_into_mail_server_view_and_outside(sandbox):
    rows = bench.measure_rows(sandbox, DELAY, requests=8, concurrency=4, patterns=["blocking", "pool"], outside=True)
    by_pattern = {row["pattern"]: row for row in rows}
    assert by_pattern["blocking"]["smtp_ms"] >= DELAY * 1000  # Server-Timing's account, read back by the client
    assert by_pattern["pool"]["smtp_ms"] == 0 and by_pattern["ping"]["smtp_ms"] == 0
    for row in rows:
        assert row["n"] == 8 and row["view_ms"] >= 0 and row["outside_ms"] >= 0
    table = bench.format_split(rows)
    assert [row[0] for row in table.rows] == ["ping", "blocking", "pool"]
    assert table.columns[2:] == ["waiting for the mail server", "the view's own work", "outside the view"]


def test_the_split_leaves_out_responses_without_a_server_timing(sandbox):
    samples = measure_send(sandbox, "pool", 3, warmup=0)
    samples.samples[0].server_ms = {}
    assert [len(part) for part in samples.split_ms().values()] == [2, 2, 2]


@pytest.fixture
def executor():
    """The learner's pool, as the exercise writes it; shut down after the test, whatever happened."""
    with ThreadPoolExecutor(2, thread_name_prefix="test-exercise-pool") as pool:
        yield pool


def unsent(msg):
    mail.send(msg)  # no app context in the pool's thread: RuntimeError, kept in a future nobody reads


def send_in_context(app, msg):
    with app.app_context():
        mail.send(msg)


def log_failure(app, future):
    if future.exception() is not None:
        app.logger.warning("mail not delivered: %s", future.exception())


@pytest.mark.slow  # the exercise's check, twice
def test_the_pool_exercise_check_fails_the_broken_sender_and_passes_the_fixed_one(sandbox, executor):
    def broken_sender(app, msg):
        executor.submit(unsent, msg)
        return 202

    def fixed_sender(app, msg):
        executor.submit(send_in_context, app, msg).add_done_callback(partial(log_failure, app))
        return 202

    broken = check_pool_sender(sandbox, broken_sender, sends=2)
    assert [check.passed for check in broken.checks] == [True, True, False, False]
    assert repr(broken).endswith("Not yet: change your code and run this cell again.")
    assert "every mail arrives (0 of 2)" in repr(broken)
    fixed = check_pool_sender(sandbox, fixed_sender, sends=2)
    assert fixed.passed, repr(fixed)
    assert repr(fixed).endswith("All checks pass.")
    assert sandbox.mail_server.settings.faults == {} and sandbox.mail_server.settings.delay == 0


def test_the_retry_exercise_check_uses_real_errors(sandbox):
    assert check_is_temporary(sandbox, is_temporary).passed
    only_451 = check_is_temporary(
        sandbox, lambda e: isinstance(e, smtplib.SMTPResponseException) and e.smtp_code == 451
    )
    failed = [check.what for check in only_451.checks if not check.passed]
    assert failed == [
        "450 to RCPT (mailbox busy): temporary, try again later",
        "421 to MAIL (service closing): temporary, try again later",
        "421 greeting (over the server's connection limit): temporary, try again later",
        "nobody listening (connection refused): temporary, try again later",
    ]
    crashing = check_is_temporary(sandbox, lambda error: error.smtp_code >= 500)
    assert "is_temporary raised AttributeError" in repr(crashing)


def test_a_client_that_hangs_up_before_its_greeting_frees_its_connection():
    with DebugMailServer(connect_delay=0.3, max_connections=1) as server:
        with socket.create_connection((LOOPBACK, server.port)):
            eventually(lambda: server.counters()["open_connections"] == 1)
        # Gone before the greeting: the session closes instead of holding the one allowed connection.
        eventually(lambda: server.counters()["open_connections"] == 0, timeout=5)
        with smtplib.SMTP(LOOPBACK, server.port, timeout=5) as client:
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: after\r\n\r\nstill served")
        assert len(server.messages) == 1

"""The failure lessons, measured and counted: the experiments the lesson runs, at test size."""

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from conftest import EMAIL
from queue_fixtures import process_exists
from sandbox_app.lab import failures
from sandbox_app.smtp.server import DebugMailServer
from sandbox_app.lab.webprocess import WebProcess


def test_a_thread_failure_goes_to_stderr_and_a_pool_failure_is_counted(private_sandbox):
    unseen = failures.unseen_failures(private_sandbox, sends=5)
    assert unseen.page_replies == {"Email sending started!": 5}  # the app said all was well
    assert len(unseen.page_exceptions) == 5
    assert unseen.page_exceptions[0].startswith("smtplib.SMTPRecipientsRefused: {'learner@example.com': (550")
    assert unseen.page_counted == 0
    assert unseen.pool_replies == {202: 5}
    assert (unseen.pool_stats["failed"], unseen.pool_stats["delivered"]) == (5, 0)
    assert unseen.pool_stats["last_error"] == "recipient refused: 550 5.1.1 No such user here"
    assert private_sandbox.mail_server.settings.faults == {}  # the experiment put the server back


def test_killing_the_web_process_loses_thread_and_pool_mail_but_not_queued_mail(private_sandbox):
    crash = failures.crash_burst(private_sandbox, per_pattern=20, delay=0.1)
    assert sum(crash.accepted.values()) >= 30  # killed once half the 60 requests were accepted
    assert crash.refused_after_kill > 0  # the process really died in the middle of the burst
    assert crash.lost("threaded") + crash.lost("pool") > 0
    # Every queued mail with a 202 arrives (one more may: queued, but killed before its 202 went out).
    assert crash.accepted["queue"] > 0 and crash.lost("queue") == 0
    assert repr(crash.table()).splitlines()[0].split() == ["pattern", "accepted", "delivered", "lost"]
    assert private_sandbox.start_consumer().running  # the consumer is back up


def test_a_connection_limit_refuses_threads_but_not_the_pool_or_the_queue(private_sandbox):
    rows = failures.limited_burst(private_sandbox, requests=60, concurrency=12, max_connections=10, delay=0.2)
    by_pattern = {row["pattern"]: row for row in rows}
    assert all(row["accepted"] == 60 for row in rows)
    assert by_pattern["threaded"]["refused_421"] > 0
    assert by_pattern["threaded"]["lost"] == by_pattern["threaded"]["failed"] > 0
    for name in ["pool", "queue"]:
        assert (by_pattern[name]["delivered"], by_pattern[name]["lost"]) == (60, 0)
        assert by_pattern[name]["peak_connections"] <= 8 and by_pattern[name]["refused_421"] == 0
    assert private_sandbox.mail_server.settings.max_connections is None
    figure = failures.plot_burst(rows)
    assert [axes.get_ylabel() for axes in figure.axes] == ["response time (ms)", "mails"]


def test_the_cli_can_send_to_an_outside_mail_server(state_dir):
    with DebugMailServer() as outside, WebProcess("--smtp-server", outside.address, "--queue-workers", "0") as web:
        request = urllib.request.Request(
            web.url + "send/blocking", data=json.dumps(EMAIL).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )  # fmt: skip
        with urllib.request.urlopen(request) as response:
            assert response.status == 200
        assert len(outside.messages) == 1
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(web.url + "api/messages")  # no debug mail server of its own
        with missing.value as error:
            assert error.code == 503
        assert web.stop() == 0  # SIGTERM: a clean stop
    assert not web.running


def test_a_killed_web_process_is_gone(state_dir):
    with DebugMailServer() as outside:
        web = WebProcess("--smtp-server", outside.address, "--queue-workers", "0").start()
        pid = web.process.pid
        web.kill()
        assert not process_exists(pid)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--smtp-server", "localhost"], "expected host:port"),
        (["--smtp-server", "127.0.0.1:25", "--smtp-delay", "0.3"], "give one or the other"),
        (["--queue-name", "has spaces"], "queue name must be"),
        (["--queue-url", "http://example.com"], "expected a redis:// URL"),
        (["--queue-workers", "-1"], "whole number"),
    ],
)
def test_bad_queue_and_smtp_options_are_explained(args, message):
    done = subprocess.run([sys.executable, "-m", "sandbox_app", *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr

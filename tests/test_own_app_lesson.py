"""Lessons 3, 4, 7 and 8's newer experiments at test size: a hung mail server, the reloader, a late reply, checks."""

import math
import os
import threading

import pytest
from flask import Flask, current_app
from flask_mail import Mail
from helpers import missing

from sandbox_app.lab import DEFAULT_EMAIL
from sandbox_app.lab.crashes import late_reply
from sandbox_app.lab.exercises import check_thread_sender
from sandbox_app.lab.own_app import flask_run, hung_mail_server, send_and_wait
from sandbox_app.lab.under_load import cpu_per_request
from sandbox_app.mailer import mail
from sandbox_app.mailer.connection import SandboxMail
from sandbox_app.smtp.loopback import LOOPBACK

STARTUP = """
import os
import threading

from flask import Flask, current_app

app = Flask(__name__)
threading.Thread(target=threading.Event().wait, daemon=True).start()
print("start-up code ran in process", os.getpid())
"""
GUARDED = STARTUP.replace(
    "threading.Thread(", 'if os.environ.get("WERKZEUG_RUN_MAIN") == "true" or not app.debug:\n    threading.Thread('
).replace('print("start', '    print("start')


def shop(extension: Mail, port: int, **config) -> Flask:
    """A bare Flask app sending with `extension` to the loopback port."""
    app = Flask("shop")
    app.config.update(MAIL_SERVER=LOOPBACK, MAIL_PORT=port, MAIL_DEFAULT_SENDER="shop@example.com", **config)
    extension.init_app(app)
    return app


def test_a_hung_mail_server_holds_a_send_without_a_timeout_and_a_timeout_ends_it():
    plain, timed = Mail(), SandboxMail()
    with hung_mail_server() as port:
        stuck = send_and_wait(shop(plain, port), plain, wait=1.0)
        gave_up = send_and_wait(shop(timed, port, MAIL_TIMEOUT=0.2), timed, wait=10.0)
        assert not stuck.finished and repr(stuck) == "still waiting after 1 s"
    assert gave_up.finished and isinstance(gave_up.error, OSError)
    assert gave_up.seconds < gave_up.wait / 5  # the timeout ended it, not the watching
    assert stuck.done.wait(10) and isinstance(stuck.error, OSError)  # the hang-up at the block's end freed it


@pytest.mark.slow  # flask run's two processes
def test_the_debug_reloader_runs_start_up_code_twice_in_two_processes():
    reloading = flask_run(STARTUP, "--debug")
    assert (reloading.starts, reloading.processes) == (2, 2)
    assert repr(reloading) == "flask run --debug: the start-up code ran 2 times, in 2 processes"
    assert flask_run(STARTUP, "--debug", "--no-reload").starts == 1
    guarded = flask_run(GUARDED, "--debug")
    assert guarded.starts == 1 and guarded.pids[0] not in reloading.pids
    assert "WERKZEUG_RUN_MAIN" not in os.environ


@pytest.mark.slow  # the lesson's experiment: a consumer of its own, a retry a second or two later
def test_a_reply_after_the_timeout_makes_the_queue_send_a_mail_twice(sandbox):
    sandbox.start_consumer()
    late = late_reply(sandbox, timeout=0.3, stall=0.8)
    assert late.accepted == 1 and late.copies == 2 and len(late.message_ids) == 1
    assert (late.counters["retried"], late.counters["delivered"], late.counters["failed"]) == (1, 1, 0)
    assert late.report().endswith("kept 2 copies, with 1 Message-ID")
    assert sandbox.queue.consumer is not None and sandbox.queue.consumer.running  # the sandbox's consumer is back


def broken_thread_sender(app, msg):
    threading.Thread(target=send_in_context, args=(current_app, msg)).start()
    return 202


def send_in_context(app, msg):
    with app.app_context():
        mail.send(msg)


def logged_send(app, msg):
    with app.app_context():
        try:
            mail.send(msg)
        except Exception as error:
            app.logger.warning("not delivered: %s", error)


def fixed_thread_sender(app, msg):
    threading.Thread(target=logged_send, args=(app, msg)).start()
    return 202


@pytest.mark.slow  # the exercise check twice, about 2 s; lesson 03 runs it under nbval too
def test_the_thread_exercise_check_fails_the_proxy_and_passes_the_fix(sandbox):
    broken = check_thread_sender(sandbox, broken_thread_sender, sends=2)
    assert [check.passed for check in broken.checks] == [True, True, False, False]
    assert "hint: a thread raised RuntimeError: Working outside of application context." in repr(broken)
    fixed = check_thread_sender(sandbox, fixed_thread_sender, sends=2)
    assert fixed.passed, repr(fixed)


def test_cpu_per_request_counts_the_context_switches_of_every_thread(sandbox):
    if os.name != "posix":
        missing("getrusage counts context switches on Unix only", "run this test on Linux or macOS")
    cost = cpu_per_request(sandbox, "send/threaded", n=10, json=DEFAULT_EMAIL)
    assert not math.isnan(cost.switches) and cost.switches > 0
    assert "context switches" in str(cost)

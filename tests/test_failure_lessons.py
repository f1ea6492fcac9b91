"""The failure lessons' parts at test size, and the sandbox's options for an outside mail server.

The crash of the web process (lesson 13) and the connection limit (lesson 12) run once per suite, in their
notebooks, where nbval compares the verdicts; the background failures run here too, in the fast tier.
"""

import signal
import smtplib
import subprocess
import sys

import pytest
from helpers import EMAIL, http_get, http_post

from sandbox_app.__main__ import main
from sandbox_app.lab.send_failures import unseen_failures
from sandbox_app.processes.webprocess import WebProcess
from sandbox_app.smtp.server import DebugMailServer


def test_a_background_failure_reaches_stderr_or_nothing_and_the_sandbox_counters_never_the_client(sandbox):
    unseen = unseen_failures(sandbox, sends=5)
    assert unseen.thread_replies == {202: 5} and unseen.pool_replies == {202: 5}  # the app said all was well
    assert len(unseen.thread_exceptions) == 5
    assert unseen.thread_exceptions[0].startswith("smtplib.SMTPRecipientsRefused: {'learner@example.com': (550")
    assert unseen.pool_exceptions == []  # each waits in its future
    assert (unseen.thread_stats["failed"], unseen.thread_stats["delivered"]) == (5, 0)
    assert (unseen.pool_stats["failed"], unseen.pool_stats["delivered"]) == (5, 0)
    assert unseen.pool_stats["last_error"] == "recipient refused: 550 5.1.1 No such user here"
    assert "5 tracebacks on stderr (smtplib.SMTPRecipientsRefused)" in unseen.report()
    assert sandbox.mail_server.settings.faults == {}  # the experiment put the server back


@pytest.mark.slow  # the command line in a process
def test_the_cli_can_send_to_an_outside_mail_server(state_dir):
    with DebugMailServer() as outside, WebProcess("--smtp-server", outside.address, "--queue-workers", "0") as web:
        assert http_post(web, "send/blocking", EMAIL).status == 200
        assert len(outside.messages) == 1
        assert http_get(web, "api/messages").status == 503  # no debug mail server of its own
        assert web.stop() == 0  # SIGTERM: a clean stop
    assert not web.running
    assert "Stopped." in web.read_log()


@pytest.mark.slow  # the command line in a process
def test_the_cli_logs_in_to_an_outside_mail_server_with_the_password_in_its_environment(state_dir):
    login = "outside-login-0123456789"
    with DebugMailServer(key=login) as outside:
        # This server does want a login: a client without one is refused.
        with smtplib.SMTP(outside.host, outside.port, timeout=10) as stranger, pytest.raises(smtplib.SMTPSenderRefused):
            stranger.sendmail("a@example.com", ["b@example.com"], b"Subject: no login\r\n\r\nx")
        with WebProcess("--smtp-server", outside.address, "--queue-workers", "0",
                        env={"SANDBOX_SMTP_PASSWORD": login}) as web:  # fmt: skip
            assert login not in " ".join(web.process.args)  # the secret travels in the environment, not in argv
            assert http_post(web, "send/blocking", EMAIL).status == 200
            assert len(outside.messages) == 1


@pytest.mark.slow  # the app in a process of its own
def test_killing_the_web_process_is_a_crash_not_a_stop(state_dir):
    with DebugMailServer() as outside:
        web = WebProcess("--smtp-server", outside.address, "--queue-workers", "0").start()
        try:
            assert http_get(web, "ping").status == 200
        finally:
            web.kill()
        assert web.process.returncode == -signal.SIGKILL  # killed, as by the out-of-memory killer
        assert "Stopped." not in web.read_log()  # nothing of its own shutdown ran, unlike stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--smtp-server", "localhost"], "expected host:port"),
        (["--queue-name", "has spaces"], "queue name must be"),
        (["--queue-url", "http://example.com"], "expected a redis:// URL"),
        (["--queue-workers", "-1"], "whole number"),
    ],
)
def test_bad_queue_and_smtp_options_are_explained(args, message, capsys):
    with pytest.raises(SystemExit) as exited:
        main(args)  # the command's own parser, in this process: it refuses before starting anything
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.slow  # the command line in a process
def test_an_outside_mail_server_and_a_delay_for_the_debug_one_are_refused_together():
    # A process of its own: were the pair accepted, it would serve until stopped, not hang this one.
    args = ["--smtp-server", "127.0.0.1:25", "--smtp-delay", "0.3"]
    done = subprocess.run([sys.executable, "-m", "sandbox_app", *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "an outside smtp_server has its own" in done.stderr
    assert "Traceback" not in done.stderr

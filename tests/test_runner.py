"""The runner: one call starts both servers; re-run safe; stop frees ports and threads."""

import dataclasses
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import http_get, http_post, listening_ports, started_since

import sandbox_app
from sandbox_app.addresses import browser_url


def test_start_is_idempotent_and_stop_frees_ports_and_threads(start_sandbox):
    before = set(threading.enumerate())
    first = start_sandbox()
    assert sandbox_app.start() is first
    assert sandbox_app.current() is first
    assert first.url == f"http://127.0.0.1:{first.port}/"
    assert http_get(first, "ping").status == 200
    ports = (first.port, first.smtp_port)
    assert set(ports) <= listening_ports()  # both servers listen in this process
    assert started_since(before), "the sandbox serves from threads of its own"

    first.stop()
    assert not first.running and sandbox_app.current() is None
    assert not set(ports) & listening_ports()  # ours no more (someone else may bind them now: not our concern)
    assert started_since(before) == []

    second = sandbox_app.start()
    assert second is not first and second.running
    assert http_get(second, "ping").status == 200
    second.stop()
    second.stop()  # stopping twice is harmless
    assert started_since(before) == []


def test_rerun_applies_the_delay(sandbox):
    assert sandbox_app.start(smtp_delay=0.2) is sandbox
    assert sandbox.mail_server.settings.delay == 0.2


def test_stop_waits_for_background_sends(start_sandbox):
    before = set(threading.enumerate())
    sandbox = start_sandbox(smtp_delay=0.3)
    mail_server = sandbox.mail_server
    with mail_server.holding():
        assert http_post(sandbox, "send/threaded", {"to": "a@example.com", "subject": "s", "body": "b"}).status == 202
        assert mail_server.messages == []  # held at the mail server
    sandbox.stop()  # released, the send still needs its 0.3 s: stop() must wait for it
    assert len(mail_server.messages) == 1  # the thread finished before the mail server went
    assert started_since(before) == []


def test_hub_url(sandbox, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/learner/")
    assert browser_url(sandbox) == f"/user/learner/proxy/{sandbox.port}/"
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX")
    assert browser_url(sandbox) == sandbox.url


@pytest.mark.slow  # a Python process
def test_interpreter_exit_stops_the_sandbox(state_dir):
    # A queued mail with no consumer: only the sandbox's stop() discards it, logs so, and removes the queue file.
    code = (
        "import sandbox_app\n"
        "from sandbox_app.lab import post\n"
        "sandbox = sandbox_app.start()\n"
        "assert post(sandbox, 'send/queue').status == 202\n"
        "print(sandbox.log_path)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    log = Path(done.stdout.strip()).read_text()
    assert "1 mail(s) never sent: no consumer ran; discarded" in log
    assert list((state_dir / "queues").glob("*.sqlite3")) == []


def test_week_old_logs_are_removed_on_start(state_dir, start_sandbox):
    import os
    import time

    logs = state_dir / "logs"
    logs.mkdir(parents=True)
    old, recent = logs / "sandbox-1111.log", logs / "sandbox-2222.log"
    old.write_text("old run\n")
    recent.write_text("yesterday's run\n")
    eight_days_ago = time.time() - 8 * 24 * 3600
    os.utime(old, (eight_days_ago, eight_days_ago))
    sandbox = start_sandbox()
    assert not old.exists()
    assert recent.exists()
    assert sandbox.log_path.parent == logs


def test_rerun_refuses_a_setting_it_cannot_change_and_never_restarts(sandbox):
    ports = (sandbox.port, sandbox.smtp_port)
    assert sandbox_app.start(server=sandbox.config.server, workers=sandbox.workers, smtp_delay=0.1) is sandbox
    with pytest.raises(ValueError, match=r"not server='waitress' \(it runs with 'inprocess'\); workers=2 .*stop\(\)"):
        sandbox_app.start(server="waitress", workers=2, smtp_delay=0.3)
    with pytest.raises(ValueError, match=r"not another key\. Run sandbox_app\.stop\(\) first") as refused:
        sandbox_app.start(key="another-key-of-16")
    assert "another-key-of-16" not in str(refused.value)  # a secret is named, never shown
    with pytest.raises(ValueError, match="smtp_port=2525"):
        sandbox_app.start(dataclasses.replace(sandbox.config, smtp_port=2525, smtp_delay=0.3))
    # Nothing was applied from a refused call, not even its delay; the sandbox kept running where it ran.
    assert sandbox.mail_server.settings.delay == 0.1
    assert sandbox_app.current() is sandbox and (sandbox.port, sandbox.smtp_port) == ports
    # The very settings it runs with: the config's delay applies, as the delay given alone does.
    assert sandbox_app.start(dataclasses.replace(sandbox.config, smtp_delay=0.2)) is sandbox
    assert sandbox.mail_server.settings.delay == 0.2

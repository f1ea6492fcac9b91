"""The runner: one call starts both servers; re-run safe; stop frees ports and threads."""

import socket
import subprocess
import sys
import urllib.request

import sandbox_app
from sandbox_app import runner


def port_is_free(port):
    """Whether this port can be bound on loopback right now."""
    try:
        with socket.create_server(("127.0.0.1", port)):
            return True
    except OSError:
        return False


def test_start_is_idempotent_and_stop_frees_ports_and_threads(thread_names):
    runner.stop()
    before = thread_names()
    first = sandbox_app.start()
    assert sandbox_app.start() is first
    assert sandbox_app.current() is first
    assert first.url == f"http://127.0.0.1:{first.port}/"
    assert urllib.request.urlopen(first.url + "ping").status == 200
    ports = (first.port, first.smtp_port)
    assert not any(port_is_free(p) for p in ports)

    first.stop()
    assert not first.running and sandbox_app.current() is None
    assert all(port_is_free(p) for p in ports)
    assert thread_names() == before

    second = sandbox_app.start()
    assert second is not first and second.running
    assert urllib.request.urlopen(second.url + "ping").status == 200
    second.stop()
    second.stop()  # stopping twice is harmless
    assert thread_names() == before


def test_rerun_applies_the_delay(sandbox):
    assert sandbox_app.start(smtp_delay=0.2) is sandbox
    assert sandbox.mail_server.settings.delay == 0.2


def test_stop_waits_for_background_sends(thread_names):
    runner.stop()
    before = thread_names()
    sandbox = sandbox_app.start(smtp_delay=0.3)
    request = urllib.request.Request(
        sandbox.url + "send/threaded", data=b'{"to": "a@example.com", "subject": "s", "body": "b"}',
        headers={"Content-Type": "application/json"}, method="POST",
    )
    assert urllib.request.urlopen(request).status == 202
    mail_server = sandbox.mail_server
    sandbox.stop()
    assert len(mail_server.messages) == 1  # the thread finished before the mail server went
    assert thread_names() == before


def test_hub_url(sandbox, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/learner/")
    assert sandbox.browser_url == f"/user/learner/proxy/{sandbox.port}/"
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX")
    assert sandbox.browser_url == sandbox.url


def test_interpreter_exit_stops_the_sandbox():
    code = "import sandbox_app; sb = sandbox_app.start(); print(sb.port, sb.smtp_port)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert all(port_is_free(int(p)) for p in done.stdout.split())


def test_week_old_logs_are_removed_on_start(tmp_path, monkeypatch):
    import os
    import time

    monkeypatch.setenv("SANDBOX_STATE_DIR", str(tmp_path))
    logs = tmp_path / "logs"
    logs.mkdir()
    old, recent = logs / "sandbox-1111.log", logs / "sandbox-2222.log"
    old.write_text("old run\n")
    recent.write_text("yesterday's run\n")
    eight_days_ago = time.time() - 8 * 24 * 3600
    os.utime(old, (eight_days_ago, eight_days_ago))
    runner.stop()
    sandbox = sandbox_app.start()
    try:
        assert not old.exists()
        assert recent.exists()
        assert sandbox.log_path.parent == logs
    finally:
        sandbox.stop()

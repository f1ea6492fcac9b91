"""The app under waitress and gunicorn (sync, gevent) in processes of its own; the async views."""

import multiprocessing
import signal
import subprocess
import sys
import time

import psutil
import pytest

from sandbox_app import runner
from sandbox_app.lab import background_sends, get, measure, measure_send, post
from sandbox_app.processes import servers
from sandbox_app.sandbox import AppNotInProcess

OUTSIDE = ["waitress", "gunicorn-sync", "gunicorn-gevent"]
DELAY = 0.3


@pytest.fixture
def launch():
    """A function starting a sandbox under a server; every sandbox it started is stopped after the test."""
    started = []

    def start(server, **options):
        runner.stop()
        sandbox = runner.start(server=server, **options)
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


@pytest.mark.parametrize("server", OUTSIDE)
def test_each_server_serves_the_same_app_and_stop_leaves_no_process(launch, server):
    sandbox = launch(server, smtp_delay=0.0)
    family = sandbox.app_process.processes()
    assert len(family) == (1 if server == "waitress" else 1 + sandbox.workers)  # gunicorn: a master and workers
    assert all(process.pid != psutil.Process().pid for process in family)  # not this process
    assert post(sandbox, "send/blocking").status == 200
    assert get(sandbox, "inbox").status == 200 and "Timing test" in get(sandbox, "inbox").text
    assert sandbox.memory_mb() > 10
    with pytest.raises(AppNotInProcess, match="its own process"):
        sandbox.app  # noqa: B018 (the property raises)

    sandbox.stop()
    assert not any(process.is_running() and process.status() != psutil.STATUS_ZOMBIE for process in family)


@pytest.mark.parametrize("server", OUTSIDE)
def test_the_launcher_keeps_the_mail_server_and_the_app_sees_its_live_settings(launch, server):
    sandbox = launch(server)
    sandbox.mail_server.configure(delay=0.05)  # changed in this process...
    assert get(sandbox, "api/smtp").json["settings"]["delay"] == 0.05  # ...seen by the app's process
    changed = sandbox_put(sandbox, {"delay": 0.02})
    assert changed == 200 and sandbox.mail_server.settings.delay == 0.02  # and the other way round
    post(sandbox, "send/blocking")
    assert get(sandbox, "api/messages").json["total"] == 1 == sandbox.mail_server.total


def sandbox_put(sandbox, settings):
    """PUT /api/smtp on the app (in its own process); the status."""
    from sandbox_app.lab import put

    return put(sandbox, "api/smtp", settings).status


def test_stats_count_every_send_across_four_sync_workers(launch):
    sandbox = launch("gunicorn-sync", workers=4, smtp_delay=0.0)
    samples = measure_send(sandbox, "blocking", 40, warmup=0, concurrency=8)
    assert samples.statuses == {200: 40}
    pids = {process.pid for process in sandbox.app_process.processes()[1:]}
    assert len(pids) == 4
    counted = get(sandbox, "api/stats").json["blocking"]  # answered by any one worker
    assert (counted["accepted"], counted["delivered"]) == (40, 40)
    assert sandbox.stats.snapshot()["blocking"]["delivered"] == 40  # and read in the launcher


@pytest.mark.slow  # two servers, each under load for a few seconds
def test_gevent_keeps_ping_fast_next_to_blocking_senders_where_sync_workers_make_it_wait(launch):
    waits = {}
    for server in ("gunicorn-gevent", "gunicorn-sync"):
        sandbox = launch(server, smtp_delay=DELAY)
        with background_sends(sandbox, "blocking", 8):
            waits[server] = measure(sandbox, "ping", 12, warmup=0).p50_ms
        sandbox.stop()
    # Four sync workers, eight senders: /ping waits for a worker, about half a send or more.
    assert waits["gunicorn-sync"] >= DELAY * 1000 / 3
    # One gevent worker: each send waits on its socket, and /ping goes on meanwhile.
    assert waits["gunicorn-gevent"] <= waits["gunicorn-sync"] / 5


@pytest.mark.parametrize("server", ["inprocess", "gunicorn-gevent"])
def test_an_awaited_async_send_takes_the_delay_and_a_forgotten_one_is_lost(launch, server):
    sandbox = launch(server, smtp_delay=0.1)
    awaited = measure_send(sandbox, "async", 5, warmup=0)
    forgotten = measure_send(sandbox, "async-nowait", 10, warmup=0)
    assert awaited.min_ms >= 100 and awaited.statuses == {200: 5}
    assert forgotten.statuses == {202: 10} and forgotten.p50_ms < awaited.p50_ms / 4
    time.sleep(0.5)  # long enough for any send that was still going to arrive
    stats = sandbox.stats.snapshot()
    assert (stats["async"]["accepted"], stats["async"]["delivered"]) == (5, 5)
    assert (stats["async-nowait"]["accepted"], stats["async-nowait"]["delivered"]) == (10, 0)
    assert sandbox.mail_server.total == 5  # accepted 15, captured 5: the 10 forgotten ones are lost


def test_measuring_an_outside_app_runs_the_clients_in_a_process_of_their_own(launch):
    sandbox = launch("waitress")
    with background_sends(sandbox, "threaded", 2) as load:
        clients = [process.name for process in multiprocessing.active_children()]
        measure(sandbox, "ping", 5)
    assert "load-clients" in clients and load.n >= 2
    assert "load-clients" not in [process.name for process in multiprocessing.active_children()]


def test_the_cli_serves_under_gunicorn_and_sigint_ends_every_process(tmp_path):
    env = {"SANDBOX_STATE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-u", "-m", "sandbox_app", "--server", "gunicorn-sync", "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("  server:"):
                break
        assert any("server:      gunicorn-sync, 2 processes" in line for line in lines), lines
        family = psutil.Process(process.pid).children(recursive=True)
        assert len([p for p in family if "gunicorn" in " ".join(p.cmdline())]) == 3  # master and 2 workers
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        _gone, alive = psutil.wait_procs(family, timeout=10)
        assert alive == []
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # its own stop ends what it started
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()


def test_gunicorn_modes_say_why_on_windows(monkeypatch):
    monkeypatch.setattr(servers.os, "name", "nt")
    with pytest.raises(servers.ServerUnavailable, match="not Windows"):
        servers.check_server("gunicorn-gevent")
    assert servers.check_server("waitress") == "waitress"


def test_an_unknown_server_is_refused_in_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "sandbox_app", "--server", "uwsgi"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2 and "invalid choice: 'uwsgi'" in done.stderr and "Traceback" not in done.stderr

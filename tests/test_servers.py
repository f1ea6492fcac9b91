"""The app under waitress and gunicorn (sync, gevent) in processes of its own; the async views."""

import multiprocessing
import os
import re
import signal
import sys

import psutil
import pytest
from helpers import eventually, named, process_exists, run_program

from sandbox_app import runner
from sandbox_app.lab import background_sends, get, measure, measure_send, post
from sandbox_app.processes import servers
from sandbox_app.processes.child import ChildProcess
from sandbox_app.sandbox import AppNotInProcess

# The app in processes of its own, under each server: make test's (a process costs a second of start-up, and each
# gunicorn a master and its workers: the fast tier's 45 s cannot hold them).
OUTSIDE = ["waitress", "gunicorn-sync", "gunicorn-gthread", "gunicorn-gevent"]
DELAY = 0.3
# Python's make_msgid: <time.PID.random@host>: the process that built each message, read from outside.
BUILT_BY = re.compile(r"<\d+\.(\d+)\.")
# It prints what it imported: Python 3.13's traceback of a -c program quotes the program, fixed words and all.
IDLE_PYTHON = [
    sys.executable, "-uc", "import flask, flask_mail, waitress, time; print('imported', waitress.__name__); time.sleep(120)"
]  # fmt: skip


@pytest.fixture(scope="module")
def bare_app_mb(tmp_path_factory):
    """The memory (MB, unique pages) of one idle interpreter that imported Flask, Flask-Mail and waitress."""
    idle = ChildProcess(IDLE_PYTHON, tmp_path_factory.mktemp("idle") / "idle.log", what="an idle Python")
    idle.ready = lambda: "imported waitress" in idle.read_log()
    with idle.start(timeout=30):
        return idle.memory_mb()


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


@pytest.mark.slow  # the app's own processes
@pytest.mark.parametrize("server", OUTSIDE)
def test_each_server_serves_the_same_app_and_stop_leaves_no_process(launch, server):
    sandbox = launch(server, smtp_delay=0.0)
    family = sandbox.app_process.processes()
    assert len(family) == (1 if server == "waitress" else 1 + sandbox.workers)  # gunicorn: a master and workers
    assert all(process.pid != psutil.Process().pid for process in family)  # not this process
    assert post(sandbox, "send/blocking").status == 200
    assert get(sandbox, "inbox").status == 200 and "Timing test" in get(sandbox, "inbox").text
    with pytest.raises(AppNotInProcess, match="its own process"):
        sandbox.app  # noqa: B018 (the property raises)

    sandbox.stop()
    assert not any(process.is_running() and process.status() != psutil.STATUS_ZOMBIE for process in family)


@pytest.mark.slow  # the app's own processes
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


@pytest.mark.slow  # the app's own processes
@pytest.mark.parametrize("server", ["waitress", "gunicorn-sync"])
def test_memory_counts_every_process_of_the_app(launch, server, bare_app_mb):
    sandbox = launch(server, smtp_delay=0.0)
    assert post(sandbox, "send/blocking").status == 200
    family = sandbox.app_process.processes()
    each = [process.memory_full_info().uss / 1e6 for process in family]  # read here, independently
    # Every process counts (gunicorn's workers share the master's pages until they write to them: only the
    # unique ones are theirs), and the whole is real memory: at least half an idle interpreter with the same
    # imports, measured in this run.
    assert sum(each) * 0.9 <= sandbox.memory_mb() <= sum(each) * 1.1 + 1, (sandbox.memory_mb(), each)
    assert sandbox.memory_mb() >= 0.5 * bare_app_mb


@pytest.mark.slow  # gunicorn's master and four workers
def test_stats_count_every_send_across_four_sync_workers(launch):
    sandbox = launch("gunicorn-sync", workers=4, smtp_delay=0.05)
    samples = measure_send(sandbox, "blocking", 40, warmup=0, concurrency=8)
    assert samples.statuses == {200: 40}
    workers = {process.pid for process in sandbox.app_process.processes()[1:]}
    assert len(workers) == 4
    # The worker that served each request built its message: its pid is in the Message-ID the mail server kept.
    builders = {int(BUILT_BY.match(m.header("Message-ID")).group(1)) for m in sandbox.mail_server.messages}
    assert builders <= workers and len(builders) >= 2, (builders, workers)
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


@pytest.mark.parametrize("server", ["inprocess", pytest.param("gunicorn-gevent", marks=pytest.mark.slow)])
def test_an_awaited_async_send_takes_the_delay_and_a_forgotten_one_is_lost(launch, server):
    sandbox = launch(server, smtp_delay=0.1)
    awaited = measure_send(sandbox, "async", 5, warmup=0)
    forgotten = measure_send(sandbox, "async-nowait", 10, warmup=0)
    assert awaited.min_ms >= 100 and awaited.statuses == {200: 5}
    assert forgotten.statuses == {202: 10} and forgotten.p50_ms < awaited.p50_ms / 4
    # A marker sent after them: when its blocking send has been captured, any forgotten send that was still
    # under way, started earlier and as slow, would have been captured first.
    assert post(sandbox, "send/blocking").status == 200
    stats = sandbox.stats.snapshot()
    assert (stats["async"]["accepted"], stats["async"]["delivered"]) == (5, 5)
    assert (stats["async-nowait"]["accepted"], stats["async-nowait"]["delivered"]) == (10, 0)
    assert sandbox.mail_server.total == 6  # accepted 16, captured 6 (the marker too): the 10 forgotten ones are lost


@pytest.mark.slow  # the app and the clients in processes of their own
def test_measuring_an_outside_app_runs_the_clients_in_a_process_of_their_own(launch):
    sandbox = launch("waitress")
    with background_sends(sandbox, "threaded", 2) as load:
        clients = [process.name for process in multiprocessing.active_children()]
        pinged = measure(sandbox, "ping", 5)
    assert "load-clients" in clients and load.n >= 2
    # Each sample names the process its client ran in: one of its own, neither this one nor the app's.
    client_pids = {sample.client_pid for sample in pinged.samples}
    app_pids = {process.pid for process in sandbox.app_process.processes()}
    assert len(client_pids) == 1 and not client_pids & {os.getpid(), *app_pids}, (client_pids, app_pids)
    assert {sample.client_pid for sample in measure(sandbox, "ping", 3, outside=False).samples} == {os.getpid()}
    assert "load-clients" not in [process.name for process in multiprocessing.active_children()]


def cli(tmp_path, *args: str) -> ChildProcess:
    """`python -m sandbox_app ARGS` in a child process, ready once it printed its server line (read with a deadline)."""
    command = [sys.executable, "-u", "-m", "sandbox_app", *args]
    process = ChildProcess(command, tmp_path / "cli.log", what="the CLI", stop_signal=signal.SIGINT)
    process.ready = lambda: "  server:" in process.read_log() and "  queue:" in process.read_log()
    return process


def app_processes(launcher: ChildProcess) -> list[psutil.Process]:
    """The processes of the app under gunicorn or waitress, below the CLI."""
    family = psutil.Process(launcher.pid).children(recursive=True)
    return named(family, "gunicorn", "programs.wsgi")


@pytest.mark.slow  # gunicorn's master and workers
def test_the_cli_serves_under_gunicorn_and_sigint_ends_every_process(tmp_path):
    with cli(tmp_path, "--server", "gunicorn-sync", "--workers", "2", "--queue-workers", "0").start(30) as launcher:
        assert "server:      gunicorn-sync, 2 processes" in launcher.read_log()
        assert "command:     gunicorn --config python:sandbox_app.programs.gunicorn_conf" in launcher.read_log()
        family = app_processes(launcher)
        assert len(family) == 3  # master and 2 workers
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(30) == 0
        _gone, alive = psutil.wait_procs(family, timeout=10)
        assert alive == []


@pytest.mark.slow  # the command line's launcher and app processes
@pytest.mark.parametrize("server", ["waitress", "gunicorn-sync"])
def test_the_app_processes_end_when_their_launcher_is_killed(tmp_path, server):
    with cli(tmp_path, "--server", server, "--workers", "2", "--queue-workers", "0").start(30) as launcher:
        family = app_processes(launcher)
        assert family
        launcher.kill()  # SIGKILL: the launcher runs no cleanup at all; they notice it is gone themselves
        for process in family:
            eventually(lambda p=process: not process_exists(p.pid), timeout=15)


def test_gunicorn_modes_say_why_on_windows():
    # The system is a parameter: patching the global os.name would change it for every thread of the run.
    with pytest.raises(servers.ServerUnavailable, match="not Windows"):
        servers.check_server("gunicorn-gevent", system="nt")
    assert servers.check_server("waitress", system="nt") == "waitress"
    assert servers.check_server("gunicorn-gevent", system="posix") == "gunicorn-gevent"


@pytest.mark.slow  # the command line in a process
def test_an_unknown_server_is_refused_in_one_line(tmp_path):
    done = run_program([sys.executable, "-m", "sandbox_app", "--server", "uwsgi"], tmp_path / "cli", timeout=30)
    assert done.returncode == 2 and "invalid choice: 'uwsgi'" in done.stderr and "Traceback" not in done.stderr

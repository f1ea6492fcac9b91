"""What the queue experiments rely on in the backends' worker lifecycle, with real workers, Redis and SMTP."""

import signal

import psutil
import pytest
from queue_fixtures import need_redis

from sandbox_app.lab.queues.common import send_tagged, signal_and_wait, wait_until_quiet, workers_for
from sandbox_app.lab.queues.stops import victims
from sandbox_app.waiting import wait_until

pytestmark = pytest.mark.slow  # each test starts real workers: seconds each


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, whose parent died before it, does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def queues_sandbox(start_sandbox):
    """A sandbox with Redis: each test starts the workers it needs."""
    need_redis()
    return start_sandbox()


def test_a_killed_rq_worker_s_horse_sends_its_mail_while_the_new_workers_start(queues_sandbox):
    sandbox, server = queues_sandbox, queues_sandbox.mail_server
    processes = sandbox.start_worker("rq", 1)
    with server.holding():  # the horse's send waits at DATA for as long as the test likes
        send_tagged(sandbox, "rq", 1, "leftover")
        wait_until(lambda: server.waiting_at_gate == 1, 15, "the horse's send")
        (horse,) = victims(processes, "work horse")
        signal_and_wait([processes[0].pid], signal.SIGKILL)  # the worker alone: its horse lives on
        sandbox.start_worker("rq", 1)  # a restart waiting for the horse would wait for the gate, then kill it
        assert alive(horse) and server.waiting_at_gate == 1
    assert dict(wait_until_quiet(sandbox, "rq", "leftover")) == {"leftover #0": 1}
    sandbox.stop_worker("rq")
    assert not alive(horse) and sandbox.backend("rq").killed == []


def test_workers_that_fit_are_kept_and_others_replaced(queues_sandbox):
    sandbox = queues_sandbox
    first = workers_for(sandbox, "rq", 2, {})
    assert workers_for(sandbox, "rq", 2, {}) == first
    other = workers_for(sandbox, "rq", 2, {"QUEUE_SEND_ONCE": True})
    assert {p.pid for p in other}.isdisjoint(p.pid for p in first) and not any(p.running for p in first)
    celery = workers_for(sandbox, "celery", 1, {})
    assert sandbox.running_workers("rq") == [] and sandbox.running_workers("celery") == celery  # one queue's


def test_discarded_held_mail_is_gone_from_both_of_kombu_s_records(queues_sandbox):
    sandbox, server = queues_sandbox, queues_sandbox.mail_server
    backend = sandbox.backend("celery")
    processes = sandbox.start_worker("celery", 1)  # acknowledges as a task starts; reserves the rest (prefetch)
    with server.holding():
        send_tagged(sandbox, "celery", 3, "held")
        wait_until(lambda: server.waiting_at_gate == 1 and backend.waiting() == 0, 15, "one send, two reserved")
        signal_and_wait([process.pid for process in processes], signal.SIGKILL)
    redis = backend.redis.client()
    held = [tag for tag in redis.hkeys("unacked") if redis.zscore("unacked_index", tag) is not None]
    assert backend.held() == len(held) == 2
    assert backend.discard_held() == 2
    assert backend.held() == 0 and all(redis.zscore("unacked_index", tag) is None for tag in held)

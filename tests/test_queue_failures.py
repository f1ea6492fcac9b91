"""The three queues under the same failures, with real workers killed: lost and duplicated mail counted.

Lessons 15 and 16 run every case, and nbval holds their verdicts; these are the cases a change to the
queues' code would break first, each with its own failure message.
"""

import signal
import time

import pytest
from queue_fixtures import need_redis
from rq import Queue
from rq.job import Job

from sandbox_app.lab.faults import mail_server_settings
from sandbox_app.lab.queues import KILL_CASES, TERM_CASES, killed_task_waits, worker_stopped
from sandbox_app.lab.queues.common import send_tagged, signal_and_wait, wait_for_sends, wait_until_quiet
from sandbox_app.lab.queues.send_once import killed_after_send
from sandbox_app.lab.queues.stops import victims

pytestmark = pytest.mark.slow  # each experiment kills workers and waits for what comes back: seconds each


@pytest.fixture
def queues_sandbox(start_sandbox):
    """A sandbox with Redis: each experiment starts the workers it needs."""
    need_redis()
    return start_sandbox()


def case_of(cases, pattern, setting, target="worker"):
    """The case of `pattern` whose setting starts with `setting`, hitting `target`."""
    return next(c for c in cases if c.pattern == pattern and c.setting.startswith(setting) and c.target == target)


@pytest.mark.parametrize(
    ("pattern", "setting", "target", "lost_all_in_flight"),
    [
        ("rq", "Retry", "work horse", False),  # a killed horse's job is retried
        ("celery", "defaults", "worker", True),  # acknowledged before it ran; the reserved ones are held
        ("celery", "acks_late", "worker", False),  # back after the visibility timeout
    ],
)
def test_a_worker_killed_mid_send(queues_sandbox, pattern, setting, target, lost_all_in_flight):
    row = worker_stopped(queues_sandbox, case_of(KILL_CASES, pattern, setting, target), sends=6, workers=2)
    assert row["in flight"] == 2 and row["accepted"] == 6
    assert row["lost"] == (row["in flight"] if lost_all_in_flight else 0), row
    assert row["twice"] == 0, row  # killed before the mail went out: nothing can arrive twice
    if pattern == "celery":
        assert (row["held"] > 0) == (setting == "defaults"), row  # reserved, back only after an hour


def test_plain_huey_loses_on_sigterm_and_the_sandbox_s_consumer_does_not(queues_sandbox):
    plain = worker_stopped(queues_sandbox, case_of(TERM_CASES, "queue", "plain"), sends=4, workers=2)
    assert plain["lost"] == plain["in flight"] == 2, plain
    ours = worker_stopped(queues_sandbox, case_of(TERM_CASES, "queue", "the sandbox"), sends=4, workers=2)
    assert ours["lost"] == ours["twice"] == 0, ours


def test_a_killed_celery_task_comes_back_after_the_visibility_timeout(queues_sandbox):
    killed = killed_task_waits(queues_sandbox)
    assert killed["copies"] == 1 and killed["back after"] >= killed["visibility timeout"], killed


@pytest.mark.parametrize("guard", [False, True])
def test_the_guard_removes_the_copies_of_a_mail_sent_and_marked(queues_sandbox, guard):
    row = killed_after_send(queues_sandbox, "rq", guard, sends=2)
    assert row["lost"] == 0 and row["twice"] == (0 if guard else 2), row


def test_an_rq_job_abandoned_by_its_worker_and_horse_is_sent_once_when_it_comes_back(queues_sandbox):
    """A worker and its horse killed together (a container gone): the job comes back once, and is sent once."""
    sandbox = queues_sandbox
    processes = sandbox.start_worker("rq", 1)
    connection = sandbox.backend("rq").redis.client()
    queue = Queue(sandbox.app.config["RQ_QUEUE"], connection=connection)
    with mail_server_settings(sandbox, connect_delay=1.0):  # caught before the mail goes out
        send_tagged(sandbox, "rq", 1, "abandoned")
        wait_for_sends(sandbox, 1)
        signal_and_wait([processes[0].pid, *victims(processes, "work horse")], signal.SIGKILL)
    (job_id,) = queue.started_job_registry.get_job_ids()
    # What 90 s do (RQ's heartbeat time to live with its defaults): the dead run's record expires, and the
    # next clean-up finds the job abandoned and retries it (Retry(max=3)).
    for execution in Job.fetch(job_id, connection=connection).get_executions():
        connection.delete(execution.key)
    queue.started_job_registry.cleanup(timestamp=time.time() + 120)
    sandbox.start_worker("rq", 1)
    received = wait_until_quiet(sandbox, "rq", "abandoned")
    assert dict(received) == {"abandoned #0": 1}  # RQ 3.0 with result_ttl=0: a copy per retry

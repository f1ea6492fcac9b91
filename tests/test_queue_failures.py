"""The three queues under the same failures, with real workers killed and stopped: lost and duplicated mail counted."""

import pytest
from queue_fixtures import need_redis

from sandbox_app.lab.queues import KILL_CASES, TERM_CASES, killed_task_waits, slow_task_runs_twice, worker_stopped
from sandbox_app.lab.queues.send_once import killed_after_send, late_reply_copies

pytestmark = pytest.mark.slow  # each experiment kills workers and waits for what comes back: seconds each


@pytest.fixture
def queues_sandbox(start_sandbox):
    """A sandbox with Redis: each experiment starts the workers it needs."""
    need_redis()
    return start_sandbox()


def by_setting(cases, pattern, setting, target="worker"):
    """The case of `pattern` named `setting` hitting `target`."""
    return next(c for c in cases if c.pattern == pattern and c.setting.startswith(setting) and c.target == target)


@pytest.mark.parametrize(
    ("pattern", "setting", "target", "lost"),
    [
        ("queue", "defaults", "worker", "in flight"),  # Huey takes a task off the queue before it runs it
        ("rq", "defaults", "work horse", "in flight"),  # no Retry: the job fails
        ("rq", "Retry", "work horse", 0),
        ("rq", "defaults", "worker", 0),  # the horses outlive their worker and finish
        ("celery", "defaults", "worker", "in flight"),  # acknowledged before it ran; the reserved ones are held
        ("celery", "acks_late", "worker", 0),
    ],
)
def test_a_worker_killed_mid_send(queues_sandbox, pattern, setting, target, lost):
    row = worker_stopped(queues_sandbox, by_setting(KILL_CASES, pattern, setting, target), sends=6, workers=2)
    assert row["in flight"] == 2 and row["accepted"] == 6
    assert row["lost"] == (row["in flight"] if lost == "in flight" else lost), row
    assert row["twice"] == 0, row  # killed before the mail went out: nothing can arrive twice
    if pattern == "celery":
        assert (row["held"] > 0) == (setting == "defaults"), row  # reserved, back only after an hour


@pytest.mark.parametrize(
    ("setting", "lost"),
    [("plain Huey", "in flight"), ("the sandbox's consumer", 0), ("--graceful-signal TERM", 0)],
)
def test_huey_and_sigterm(queues_sandbox, setting, lost):
    row = worker_stopped(queues_sandbox, by_setting(TERM_CASES, "queue", setting), sends=6, workers=2)
    assert row["lost"] == (row["in flight"] if lost == "in flight" else lost) and row["twice"] == 0, row


@pytest.mark.parametrize("pattern", ["rq", "celery"])
def test_rq_and_celery_finish_the_sends_under_way_on_sigterm(queues_sandbox, pattern):
    row = worker_stopped(queues_sandbox, by_setting(TERM_CASES, pattern, "defaults"), sends=6, workers=2)
    assert row["sent before it exited"] >= row["in flight"] == 2 and row["lost"] == row["twice"] == 0, row


def test_celery_visibility_timeout_both_halves(queues_sandbox):
    slow = slow_task_runs_twice(queues_sandbox)
    assert slow["accepted"] == 1 and slow["copies"] == 2, slow
    killed = killed_task_waits(queues_sandbox)
    assert killed["copies"] == 1 and killed["back after"] >= killed["visibility timeout"], killed


@pytest.mark.parametrize("guard", [False, True])
def test_the_guard_removes_the_copies_of_a_mail_sent_and_marked(queues_sandbox, guard):
    row = killed_after_send(queues_sandbox, "rq", guard, sends=2)
    assert row["lost"] == 0 and row["twice"] == (0 if guard else 2), row


def test_the_guard_s_window_a_kill_before_the_reply_and_a_late_reply(queues_sandbox):
    window = killed_after_send(queues_sandbox, "rq", True, window=True, sends=2)
    assert window["lost"] == 0 and window["twice"] == 2, window
    late = late_reply_copies(queues_sandbox, "rq", True)
    assert late["lost"] == 0 and late["twice"] == 1, late

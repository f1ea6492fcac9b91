"""Lesson 18's experiments: the after-commit exercise's check, and the kill between COMMIT and the enqueue, on a real
sandbox (SQLite, Huey's consumer, the outbox relay, a process of the app's own SIGKILLed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from database_fixtures import postgresql_database  # noqa: F401 (fixtures)
from helpers import run_program
from queue_fixtures import need_redis

from sandbox_app.config import DATABASE_URL_ENV
from sandbox_app.lab.database_and_queue import (
    check_after_commit_hook,
    count_way,
    kill_between_commit_and_enqueue,
    on_celery_and_rq,
)
from sandbox_app.patterns.signup.on_commit import on_commit

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "18-database-and-queue.ipynb"


@pytest.fixture
def lesson_sandbox(start_sandbox):
    """The lesson's sandbox: Huey's consumer with the send-once guard in the database, one relay."""
    sandbox = start_sandbox(smtp_delay=0.02)
    sandbox.start_worker("queue", 2, QUEUE_SEND_ONCE="database")
    sandbox.start_relay(OUTBOX_LEASE_SECONDS=1.0)
    return sandbox


@pytest.mark.slow  # a consumer process
def test_the_exercise_check_passes_the_sandboxs_hook_and_fails_one_that_queues_at_once(lesson_sandbox):
    assert check_after_commit_hook(lesson_sandbox, on_commit).passed
    report = check_after_commit_hook(lesson_sandbox, lambda callback: callback())  # queued before the commit
    failed = [check.what for check in report.checks if not check.passed]
    assert failed[0].startswith("a user whose commit is slow is welcomed") and "one task per user committed" in failed


@pytest.mark.slow  # a consumer process
def test_the_gate_makes_the_in_transaction_race_and_the_after_commit_way_misses_none(lesson_sandbox):
    raced = count_way(lesson_sandbox, "in-transaction", signups=5, rollbacks=1)
    assert (raced.users, raced.missing, raced.rollback_tasks, raced.rollback_mail) == (5, 5, 1, 0)
    after = count_way(lesson_sandbox, "after-commit", signups=5, rollbacks=1)
    assert (after.users, after.missing, after.rollback_tasks, after.twice) == (5, 0, 0, 0)


@pytest.mark.slow  # a process of the app's own, SIGKILLed
def test_a_kill_after_commit_loses_the_after_commit_ways_mail_and_not_the_outboxs(lesson_sandbox):
    assert kill_between_commit_and_enqueue(lesson_sandbox) == {"after-commit": 1, "outbox": 0}


@pytest.mark.slow  # Redis, then Celery's and RQ's workers, each alone
def test_after_commit_and_the_outbox_welcome_once_on_celery_and_rq_at_20_clients(lesson_sandbox):
    need_redis()
    counts = on_celery_and_rq(lesson_sandbox)
    assert list(counts) == ["after-commit, celery", "outbox, celery", "after-commit, rq", "outbox, rq"]
    for way, count in counts.items():
        # 20 users each welcomed once; 4 addresses again refused (409) and 4 rollbacks (422): no mail, no task.
        assert (count.users, count.missing, count.twice, count.refused) == (20, 0, 0, 4), way
        assert (count.rolled_back, count.rollback_tasks, count.rollback_mail) == (4, 0, 0), way


@pytest.mark.slow  # lesson 18's notebook, once, under nbval
def test_the_lessons_notebook_passes_nbval_on_postgresql(postgresql_database, state_dir, monkeypatch):  # noqa: F811
    monkeypatch.setenv(DATABASE_URL_ENV, postgresql_database)  # how a learner points the lesson at PostgreSQL
    done = run_program([sys.executable, "-m", "pytest", str(NOTEBOOK), "-q", "-p", "no:randomly", "-n", "0"],
                       state_dir / "nbval", timeout=240, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:]
    assert " passed" in done.stdout and " skipped" not in done.stdout

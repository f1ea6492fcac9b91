"""The queued ways on Celery and RQ (`?via=celery|rq`): real Redis, real workers, real SMTP, the sandbox's SQLite."""

from __future__ import annotations

import pytest
from helpers import eventually, get_json
from queue_fixtures import need_redis
from test_signup import sign_up, user_emails, welcomed

from sandbox_app.database.gate import tasks_settled


@pytest.mark.slow  # Redis, the queue's workers and a relay, per queue
@pytest.mark.parametrize("via", ["celery", "rq"])
def test_after_commit_and_outbox_welcome_once_and_the_gate_shows_the_race(start_sandbox, via):
    need_redis()
    sandbox = start_sandbox()
    sandbox.start_worker(via)
    sandbox.start_relay()
    for way, email in (("after-commit", "ac@example.com"), ("outbox", "ob@example.com")):
        assert sign_up(sandbox, way, email, via=via).status == 201
        assert sign_up(sandbox, way, email, via=via).status == 409
        assert sign_up(sandbox, way, f"no-{email}", via=via, fail_after_enqueue=True).status == 422
    eventually(lambda: welcomed(sandbox) == ["ac@example.com", "ob@example.com"], timeout=20)
    # The in-transaction way, its commit held until the worker has run the task: it finds nobody.
    with sandbox.commit_gate.holding(until=tasks_settled(via, sandbox.app), timeout=20):
        assert sign_up(sandbox, "in-transaction", "it@example.com", via=via).status == 201
    assert user_emails(sandbox) == ["ac@example.com", "it@example.com", "ob@example.com"]
    stats = get_json(sandbox, "api/stats")[via]
    assert stats["accepted"] == 3 and stats["delivered"] == 2 and stats["failed"] == 1
    assert stats["last_error"].startswith("LookupError: no user ")
    assert welcomed(sandbox) == ["ac@example.com", "ob@example.com"]  # none for the 409s and 422s either

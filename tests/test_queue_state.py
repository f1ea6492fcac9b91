"""GET /api/queue's `queues`: each backend's waiting, oldest_age_s, in_flight, retries_scheduled, failed and workers,
read against real worker processes while the mail server holds, refuses for now, or refuses for good."""

import time

import pytest
from helpers import EMAIL, eventually, get_json, http_post
from queue_fixtures import need_redis

from sandbox_app.lab.faults import REFUSE_EVERY_RECIPIENT, TRY_AGAIN_LATER, mail_server_settings
from sandbox_app.queues.registry import BACKENDS

FIELDS = {"backend", "waiting", "oldest_age_s", "in_flight", "retries_scheduled", "failed", "workers"}


def state(sandbox, pattern: str) -> dict:
    """This queue's entry in GET /api/queue, over HTTP."""
    return get_json(sandbox, "api/queue")["queues"][pattern]


def send(sandbox, pattern: str, count: int) -> None:
    """POST `count` mails to /send/<pattern>; each must be accepted."""
    for number in range(count):
        reply = http_post(sandbox, f"send/{pattern}", {**EMAIL, "subject": f"{pattern} #{number}"})
        assert reply.status == 202, reply.text


@pytest.fixture
def queue_sandbox(start_sandbox, request):
    """A sandbox whose queue `request.param` has no workers until the test starts them (Redis if it needs one)."""
    backend = BACKENDS[request.param]
    if backend.needs_redis:
        need_redis()
    sandbox = start_sandbox(app_config={backend.workers_setting.key: 0})
    yield sandbox, request.param
    sandbox.stop()


@pytest.mark.slow  # real workers per queue
@pytest.mark.parametrize("queue_sandbox", list(BACKENDS), indirect=True)
def test_each_field_follows_the_mail_through_real_workers(queue_sandbox):
    sandbox, pattern = queue_sandbox
    idle = state(sandbox, pattern)
    assert set(idle) == FIELDS and idle["backend"] == BACKENDS[pattern].library
    assert (idle["waiting"], idle["oldest_age_s"], idle["in_flight"], idle["workers"]) == (0, None, 0, [])

    # No worker: the mail waits, and the oldest one ages (each backend stamped the time it was queued).
    send(sandbox, pattern, 3)
    time.sleep(0.5)
    waiting = state(sandbox, pattern)
    assert waiting["waiting"] == 3 and waiting["in_flight"] == 0, waiting
    assert 0.5 <= waiting["oldest_age_s"] < 30, waiting

    # Two sends at once, held by the mail server at its gate (however long reading the state takes): in flight.
    with sandbox.mail_server.holding():
        workers = sandbox.start_worker(pattern, 2)
        eventually(lambda: sandbox.mail_server.waiting_at_gate == 2, timeout=10)
        # Celery's worker reserves the third at once (its prefetch): in flight too, though not sent yet. kombu
        # moves a message in two steps (off the list, into its unacked hash): between them it is in neither.
        held = eventually(lambda: (s := state(sandbox, pattern))["in_flight"] + s["waiting"] == 3 and s, timeout=2)
        assert [w["pid"] for w in held["workers"]] == [w.pid for w in workers if w.workers], held
        assert held["in_flight"] >= 2, held
        assert held["retries_scheduled"] == 0
    sandbox.mail_server.wait_for(3, timeout=20)
    eventually(lambda: state(sandbox, pattern)["in_flight"] == 0, timeout=10)
    done = state(sandbox, pattern)
    assert (done["waiting"], done["oldest_age_s"], done["failed"]) == (0, None, 0), done

    # A temporary refusal: the mail waits for its retry's time, in the queue's schedule (Celery: reserved, with an eta).
    with mail_server_settings(sandbox, faults=TRY_AGAIN_LATER):
        send(sandbox, pattern, 1)
        retrying = eventually(lambda: state(sandbox, pattern)["retries_scheduled"] == 1 or None, timeout=10)
        assert retrying
    eventually(lambda: len(sandbox.mail_server.messages) == 4, timeout=20)
    eventually(lambda: state(sandbox, pattern)["retries_scheduled"] == 0, timeout=10)

    # A refusal for good: counted failed, never retried.
    with mail_server_settings(sandbox, faults=REFUSE_EVERY_RECIPIENT):
        send(sandbox, pattern, 2)
        eventually(lambda: state(sandbox, pattern)["failed"] == 2, timeout=15)
    # Counted as it failed; the library lets go of it just after (RQ's started registry): then nothing is left.
    final = eventually(lambda: (s := state(sandbox, pattern))["in_flight"] == 0 and s, timeout=5)
    assert (final["waiting"], final["in_flight"], final["retries_scheduled"]) == (0, 0, 0), final
    assert sandbox.stats.snapshot()[pattern]["delivered"] == 4

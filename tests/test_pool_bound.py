"""The pool's queue bound: a full queue answers 503 with Retry-After, holds no more, and loses nothing it accepted."""

import pytest
from helpers import EMAIL

from sandbox_app import create_app
from sandbox_app.lab.pool_and_connections import pool_backlog
from sandbox_app.mailer.background import get_background
from sandbox_app.patterns.pool import get_pool


def test_a_full_queue_is_refused_with_503_and_what_was_accepted_is_delivered(mail_server):
    # One thread, two places in the queue; the mail server holds the mail, so nothing finishes meanwhile.
    app = create_app({"MAIL_POOL_SIZE": 1, "MAIL_POOL_QUEUE_SIZE": 2}, mail_server=mail_server)
    try:
        with app.test_client() as client, mail_server.holding():
            responses = [client.post("/send/pool", json=EMAIL) for _ in range(5)]
            assert [r.status_code for r in responses] == [202, 202, 202, 503, 503]
            refused = responses[-1]
            assert refused.json == {"error": "the mail pool is full: 2 mails already wait for a thread"}
            assert refused.headers["Retry-After"] == "1"
            assert get_pool(app).peak == 3
    finally:
        get_background(app).finish(timeout=10)
    assert len(mail_server.messages) == 3
    stats = app.test_client().get("/api/stats").json["pool"]
    # Refused mail is counted (accepted by the route, never sent), so the counters still add up.
    assert (stats["accepted"], stats["delivered"], stats["failed"]) == (5, 3, 2)
    assert stats["last_error"] == "the mail pool is full: 2 mails already wait for a thread"


def test_without_a_bound_the_pool_takes_every_mail(mail_server):
    app = create_app({"MAIL_POOL_SIZE": 1}, mail_server=mail_server)
    try:
        with app.test_client() as client, mail_server.holding():
            assert [client.post("/send/pool", json=EMAIL).status_code for _ in range(6)] == [202] * 6
            assert get_pool(app).queue_size is None and get_pool(app).held() == 6
    finally:
        get_background(app).finish(timeout=10)
    assert len(mail_server.messages) == 6


@pytest.mark.slow  # an experiment: two runs under load
def test_the_backlog_experiment_compares_no_bound_with_a_bound(sandbox):
    backlog = pool_backlog(sandbox, queue_sizes=(None, 4), requests=40, concurrency=10, delay=0.1)
    unbounded, bounded = backlog.runs
    threads = bounded.threads
    assert unbounded.accepted == 40 and unbounded.lost == 0
    assert bounded.accepted + bounded.refused == 40 and bounded.refused > 0
    # With the mail server stalled, the clients' 202s count the mail held: exactly the threads and the bound.
    assert (bounded.accepted_when_stalled, unbounded.accepted_when_stalled) == (threads + 4, 40)
    assert bounded.most_held <= threads + 4 < unbounded.most_held
    assert bounded.lost == 0 and bounded.delivered == bounded.accepted
    table = repr(backlog.table())
    assert table.splitlines()[0].split("  ")[:3] == ["queue bound", "answered 202", "answered 503"]
    assert [row[0] for row in backlog.table().rows] == ["none", 4]
    assert get_pool(sandbox.app).queue_size is None  # the experiment put the sandbox's pool back

"""The pool pattern: a bounded ThreadPoolExecutor owned by the app, failures counted, drained on stop."""

import logging
import threading

from helpers import EMAIL, eventually, started_since

from sandbox_app.lab import measure_send
from sandbox_app.mailer.background import get_background
from sandbox_app.mailer.stats import get_stats
from sandbox_app.patterns.pool import get_pool


def test_pool_answers_at_once_and_delivers(client, mail_server):
    with mail_server.holding():
        response = client.post("/send/pool", json=EMAIL)
        assert response.status_code == 202
        assert response.json == {"pattern": "pool", "status": "accepted", "to": EMAIL["to"]}
        assert mail_server.messages == []  # answered while the mail server still held the mail
    (message,) = mail_server.wait_for(1, timeout=5)
    assert message.subject == EMAIL["subject"]
    eventually(lambda: client.get("/api/stats").json["pool"]["delivered"] == 1)
    assert client.get("/api/stats").json["pool"] == {
        "accepted": 1, "delivered": 1, "failed": 0, "retried": 0, "last_error": None,
    }  # fmt: skip


def test_a_failure_is_counted_and_logged_from_the_future(client, mail_server, caplog):
    mail_server.configure(faults={"RCPT": {"code": 550, "message": "No such user"}})
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert client.post("/send/pool", json=EMAIL).status_code == 202  # the client hears nothing of it
        eventually(lambda: client.get("/api/stats").json["pool"]["failed"] == 3)
    stats = client.get("/api/stats").json["pool"]
    assert stats["delivered"] == 0
    assert stats["last_error"] == "recipient refused: 550 No such user"
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("pool: mail not delivered")]
    assert logged == ["pool: mail not delivered: recipient refused: 550 No such user"] * 3


def test_the_pool_never_opens_more_connections_than_it_has_threads(make_app, mail_server):
    app = make_app({"MAIL_POOL_SIZE": 3})
    with app.test_client() as client, mail_server.holding():
        for _ in range(12):
            assert client.post("/send/pool", json=EMAIL).status_code == 202
        # Held at the gate, each thread keeps its connection open however slow the machine: all three at once.
        eventually(lambda: mail_server.waiting_at_gate == 3)
        assert mail_server.counters()["open_connections"] == 3
    get_background(app).finish(timeout=10)
    assert len(mail_server.messages) == 12
    assert mail_server.counters()["peak_connections"] == 3


def test_stopping_the_sandbox_drains_the_pool_first(start_sandbox):
    before = set(threading.enumerate())
    sandbox = start_sandbox(smtp_delay=0.2, app_config={"MAIL_POOL_SIZE": 2})
    mail_server = sandbox.mail_server
    with mail_server.holding():
        samples = measure_send(sandbox, "pool", 6, warmup=0, concurrency=3)
        assert samples.statuses == {202: 6}
        assert mail_server.messages == []  # all six still in the pool: two held at the server, four queued
        assert [name for name in started_since(before) if name.startswith("sandbox-mail-pool")]
    # Released: 2 threads at 0.2 s each need 0.6 s for the six; stop() must wait for them.
    sandbox.stop()
    assert len(mail_server.messages) == 6  # every queued send went out before the app stopped
    assert started_since(before) == []  # and the pool's threads are gone, with the servers'


def test_a_drain_that_runs_out_of_time_counts_what_it_cancels(make_app, mail_server):
    app = make_app({"MAIL_POOL_SIZE": 1, "MAIL_POOL_DRAIN_TIMEOUT": 0.1})
    stopping = threading.Thread(target=get_background(app).finish, args=(10,))
    with mail_server.holding():
        with app.test_client() as client:
            for _ in range(3):
                assert client.post("/send/pool", json=EMAIL).status_code == 202
        eventually(lambda: mail_server.waiting_at_gate == 1)  # the first in progress, held; two queued behind it
        stopping.start()
        # The drain's 0.1 s ran out while the first was still held, whatever the machine's speed: the two
        # queued ones are cancelled (and forgotten by the pool), the one in progress is waited for.
        eventually(lambda: get_pool(app).held() == 1)
    stopping.join(10)  # released: the send in progress finishes, then the stop does
    assert not stopping.is_alive()
    stats = get_stats(app).snapshot()["pool"]
    # The send in progress finishes; the two still queued are cancelled and counted, not dropped.
    assert (stats["delivered"], stats["failed"]) == (1, 2)
    assert stats["last_error"] == "cancelled: the app stopped before this mail was sent"
    assert len(mail_server.messages) == 1

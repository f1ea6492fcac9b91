"""The outbox relay: its claim (FOR UPDATE SKIP LOCKED on PostgreSQL, UPDATE ... RETURNING on SQLite), its lease,
its process, and the outbox in GET /api/queue; real SMTP, a real database and real workers."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time

import pytest
from database_fixtures import database_url, postgresql_database  # noqa: F401 (fixtures)
from helpers import eventually, get_json, http_call, http_post, refusing_port
from sqlalchemy import select

from sandbox_app import create_app
from sandbox_app.cli import main
from sandbox_app.database import OutboxMail, db
from sandbox_app.database.guard import DatabaseGuard
from sandbox_app.database.outbox_state import outbox_state
from sandbox_app.database.sqlite import check_returning
from sandbox_app.mailer.as_data import message_from
from sandbox_app.mailer.background import get_background
from sandbox_app.mailer.stats import get_stats, zeros
from sandbox_app.patterns.signup import relay
from sandbox_app.patterns.signup.welcome import welcome_message
from sandbox_app.processes.webprocess import WebProcess
from sandbox_app.queues.huey_queue import unsent_in
from sandbox_app.queues.registry import hand_over


def write_rows(app, count: int, queue: str = "queue") -> list[str]:
    """`count` welcome mails written into the outbox, committed; their Message-IDs."""
    with app.app_context():
        from sandbox_app.database import User

        rows = [
            OutboxMail.of(welcome_message(User(email=f"u{n}@example.com", name=f"u{n}")), queue=queue)
            for n in range(count)
        ]
        db.session.add_all(rows)
        db.session.commit()
        return [row.message_id for row in rows]


@pytest.fixture
def db_app(mail_server, database_url):  # noqa: F811
    """An app on the test's database (SQLite or PostgreSQL), stopped after the test."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url} if database_url else {}, mail_server=mail_server)
    yield app
    get_background(app).finish(timeout=10)


def claim(app, batch: int, now: float | None = None) -> list[int]:
    """One claim at `now` (the clock's), committed, in an app context (a session) of its own; the ids claimed."""
    with app.app_context():
        rows = relay.CLAIMS[db.engine.dialect.name](batch, time.time() if now is None else now)
        db.session.commit()
        return sorted(row.id for row in rows)


def test_each_row_is_claimed_once(db_app):
    write_rows(db_app, 5)
    first, second, third = claim(db_app, 3), claim(db_app, 3), claim(db_app, 3)
    assert len(first) == 3 and len(second) == 2 and third == []
    assert set(first).isdisjoint(second)


def test_a_claim_comes_back_once_its_lease_runs_out(db_app):
    lease = db_app.config["OUTBOX_LEASE_SECONDS"] = 30.0
    [message_id] = write_rows(db_app, 1)
    now = time.time()  # the claims' clock is given: a busy machine cannot make the lease run out between two of them
    claimed = claim(db_app, 10, now)
    assert claimed and claim(db_app, 10, now + lease - 1) == []  # claimed, not handed over: a live relay's
    # That relay died without marking it: once the lease has run out, the row comes back, with its Message-ID.
    assert claim(db_app, 10, now + lease + 1) == claimed
    with db_app.app_context():
        assert db.session.get(OutboxMail, claimed[0]).message_id == message_id


def test_postgresql_relays_skip_the_rows_another_is_claiming(mail_server, postgresql_database):  # noqa: F811
    app = create_app({"SQLALCHEMY_DATABASE_URI": postgresql_database}, mail_server=mail_server)
    try:
        write_rows(app, 4)
        holding, taken = threading.Event(), threading.Event()
        first: list[int] = []

        def slow_relay() -> None:  # claims, and holds its transaction open (its rows locked) until told
            with app.app_context():
                first.extend(row.id for row in relay.claim_skip_locked(2, time.time()))
                holding.set()
                taken.wait(10)
                db.session.commit()

        thread = threading.Thread(target=slow_relay)
        thread.start()
        try:
            assert holding.wait(10)
            started = time.monotonic()
            second = claim(app, 4)  # does not wait for the first relay's locks: it passes over its rows
            waited = time.monotonic() - started
        finally:
            taken.set()
            thread.join(10)
        assert len(first) == 2 and len(second) == 2 and set(first).isdisjoint(second)
        assert waited < 5  # the lock is held until `taken`: a claim that waited for it would still be waiting
    finally:
        get_background(app).finish(timeout=10)


def test_a_hand_over_that_fails_is_scheduled_again_then_given_up(mail_server):
    with refusing_port() as no_redis:
        app = create_app({"REDIS_URL": f"redis://127.0.0.1:{no_redis}/0", "QUEUE_RETRIES": 0}, mail_server=mail_server)
        try:
            write_rows(app, 1, queue="rq")
            with app.app_context():
                assert relay.relay_once() == 1
                row = db.session.scalars(select(OutboxMail)).one()
                assert row.attempts == 1 and row.handed_over_at is None and row.failed_at is None
                assert row.last_error.startswith("queue unavailable: ConnectionError")
                assert get_stats(app).snapshot()["rq"] == zeros()  # nothing accepted, nothing lost: it is retried
                state = get_json_state(app)
                assert state["retries_scheduled"] == 1 and state["waiting"] == 0
                for _ in range(relay.MAX_ATTEMPTS - 1):
                    row.available_at = 0  # its retry is due now
                    db.session.commit()
                    assert relay.relay_once() == 1
                db.session.refresh(row)
                assert row.failed_at is not None and row.attempts == relay.MAX_ATTEMPTS
            assert get_json_state(app)["failed"] == 1
        finally:
            get_background(app).finish(timeout=10)


def get_json_state(app) -> dict:
    """GET /api/queue's `queues.outbox`, as the route reads it (the route itself answers 503: Redis is down)."""
    return outbox_state(app, time.time())


def test_sqlite_runs_one_relay_and_says_why_an_old_one_cannot(start_sandbox):
    sandbox = start_sandbox()
    with pytest.raises(ValueError, match="SQLite runs one outbox relay"):
        sandbox.start_relay(2)
    with pytest.raises(RuntimeError) as raised:
        check_returning("3.31.1")
    assert "\n" not in str(raised.value) and "needs SQLite 3.35 or newer" in str(raised.value)
    check_returning("3.35.0")


@pytest.mark.slow  # a relay and a consumer process
def test_the_relay_hands_the_outbox_to_the_queue_and_the_oldest_age_shows_a_stopped_relay(start_sandbox, database_url):  # noqa: F811
    sandbox = start_sandbox(database_url=database_url)
    sandbox.start_consumer(workers=2)
    sandbox.stop_relay()  # no relay: the mail waits in the outbox, and ages
    for n in range(3):
        assert http_post(sandbox, "signup/outbox", {"email": f"w{n}@example.com", "name": "W"}).status == 201
    time.sleep(0.3)
    outbox = get_json(sandbox, "api/queue")["queues"]["outbox"]
    assert outbox["waiting"] == 3 and outbox["in_flight"] == 0 and outbox["workers"] == []
    assert outbox["oldest_age_s"] >= 0.3
    [relay_process] = sandbox.start_relay()
    messages = sandbox.mail_server.wait_for(3, timeout=10)
    outbox = eventually(lambda: (o := get_json(sandbox, "api/queue")["queues"]["outbox"])["waiting"] == 0 and o)
    assert outbox == {
        "backend": "outbox", "waiting": 0, "oldest_age_s": None, "in_flight": 0, "retries_scheduled": 0,
        "failed": 0, "workers": [{"pid": relay_process.pid, "threads": 1}],
    }  # fmt: skip
    # Each mail went out with the Message-ID fixed when its row was written.
    with sandbox.app.app_context():
        written = set(db.session.scalars(select(OutboxMail.message_id)))
    assert {dict(m.headers)["Message-ID"] for m in messages} == written


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("mysql://u@h/db", "error: argument --database-url: the database is SQLite (sqlite:///FILE) or PostgreSQL"),
        ("sqlite://", "error: argument --database-url: an in-memory SQLite database is not shared with the workers"),
        ("nonsense", "error: argument --database-url: not a database URL"),
        ("postgresql://u@localhost", "error: argument --database-url: the PostgreSQL URL names no database"),
    ],
)
def test_a_bad_database_url_is_a_one_line_error(url, error, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--database-url", url])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"python -m sandbox_app: {error}")


@pytest.mark.slow  # a web process of its own, its consumer and its relay
def test_the_cli_runs_on_the_database_it_is_given(tmp_path):
    database = tmp_path / "shop.sqlite3"
    served = WebProcess("--database-url", f"sqlite:///{database}", "--queue-workers", "1", "--outbox-relays", "1")
    with served:
        reply = http_post(served, "signup/outbox", {"email": "cli@example.com", "name": "C"})
        assert reply.status == 201
        assert f"database:    sqlite:///{database}" in served.read_log()
        eventually(lambda: get_json(served, "api/queue")["queues"]["outbox"]["waiting"] == 0, timeout=10)
        assert len(get_json(served, "api/queue")["queues"]["outbox"]["workers"]) == 1
    assert database.exists()  # given, so kept: the sandbox removes only a file it made


@pytest.mark.slow  # the app under waitress in a process of its own
def test_an_app_in_a_process_of_its_own_has_its_launcher_run_the_relay(start_sandbox):
    sandbox = start_sandbox(server="waitress", workers=2)
    sandbox.start_consumer(workers=1)
    reply = http_post(sandbox, "signup/outbox", {"email": "far@example.com", "name": "F"})
    assert reply.status == 201, reply.text
    [message] = sandbox.mail_server.wait_for(1, timeout=15)
    assert message.rcpt_tos == ("far@example.com",)
    [relay_process] = sandbox.relays.running()  # the launcher's: the app process asked it over the channel
    outbox = get_json(sandbox, "api/queue")["queues"]["outbox"]
    assert outbox["workers"] == [{"pid": relay_process.pid, "threads": 1}] and outbox["waiting"] == 0


def post_until_killed(served, path: str) -> None:
    """POST a sign-up whose process is killed before it answers (its connection closes without a reply)."""
    with contextlib.suppress(OSError):
        http_post(served, path, {"email": "k@example.com", "name": "K"})


@pytest.mark.slow  # a web process of its own, killed, and its consumer and relay ending with it
@pytest.mark.parametrize("way", ["after-commit", "outbox"])
def test_a_web_process_killed_between_commit_and_enqueue(tmp_path, state_dir, way):
    database = tmp_path / "shop.sqlite3"
    served = WebProcess("--database-url", f"sqlite:///{database}", "--queue-workers", "1")
    with served:
        reply = http_call("PUT", served, "api/commit-gate", {"held": True, "at": "after-commit"})
        assert reply.json == {"held": True, "at": "after-commit", "waiting": 0, "passed": 0}
        request = threading.Thread(target=post_until_killed, args=(served, f"signup/{way}"))
        request.start()
        eventually(lambda: get_json(served, "api/commit-gate")["waiting"] == 1, timeout=10)
        served.kill()  # after COMMIT, before anything was queued: the out-of-memory killer, a deploy's SIGKILL
        request.join(10)
    with contextlib.closing(sqlite3.connect(database)) as db_file:
        assert db_file.execute("select email from users").fetchall() == [("k@example.com",)]  # committed
        outbox = db_file.execute("select message from outbox where handed_over_at is null").fetchall()
    queued = sum(unsent_in(path) for path in state_dir.glob("queues/*.sqlite3"))
    if way == "after-commit":
        assert queued == 0 and outbox == []  # the user is in, and the welcome mail is lost for good
    else:  # the mail is in the outbox for the next relay, or the relay (alive until now) had queued it already
        assert queued + len(outbox) == 1
        assert all(json.loads(message)["recipients"] == ["k@example.com"] for (message,) in outbox)


@pytest.mark.slow  # a relay and a consumer process
@pytest.mark.parametrize("guard", [False, "database"], ids=["no-guard", "database-guard"])
def test_the_send_once_guard_in_the_database_removes_the_relays_duplicate(start_sandbox, guard):
    sandbox = start_sandbox(app_config={"OUTBOX_LEASE_SECONDS": 0.2})
    sandbox.start_worker("queue", 1, QUEUE_SEND_ONCE=guard)  # one thread: the copies are sent one after the other
    [message_id] = write_rows(sandbox.app, 1)
    with sandbox.app.app_context():
        # A relay killed in its window: it claimed the row and handed the mail over, and never marked it.
        [row] = relay.CLAIMS[db.engine.dialect.name](10, time.time())
        db.session.commit()
        hand_over(row.queue, message_from(row.message))
        sandbox.mail_server.wait_for(1, timeout=10)
        time.sleep(0.3)  # its lease runs out: the next relay claims the row again, and hands the mail over again
        assert relay.relay_once() == 1
    if not guard:
        sandbox.mail_server.wait_for(2, timeout=10)
    # Both copies taken and run (a skipped copy is counted nowhere: it was not sent).
    eventually(lambda: not any(get_json(sandbox, "api/queue")["queues"]["queue"][k] for k in ("waiting", "in_flight")))
    time.sleep(0.2)
    copies = [m for m in sandbox.mail_server.messages if dict(m.headers)["Message-ID"] == message_id]
    assert len(copies) == (1 if guard else 2)


def test_the_database_guard_keeps_the_first_mark(db_app):
    with db_app.app_context():
        guard = DatabaseGuard()
        assert not guard.already_sent("<a@example.com>")
        guard.mark("<a@example.com>")
        guard.mark("<a@example.com>")  # a second copy's mark: no error, the first one stays
        assert guard.already_sent("<a@example.com>") and not guard.already_sent("<b@example.com>")

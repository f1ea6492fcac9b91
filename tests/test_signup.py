"""The four ways to send a sign-up's welcome mail, on real SMTP, real workers and a real database (SQLite, PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from database_fixtures import module_database_url  # noqa: F401 (fixtures)
from helpers import eventually, get_json, http_call, http_get, http_post

from sandbox_app.config import SandboxConfig
from sandbox_app.database.gate import tasks_settled
from sandbox_app.sandbox import Sandbox

WAYS = ("inline", "in-transaction", "after-commit", "outbox")


def sign_up(sandbox, way, email, via=None, **fields):
    """POST /signup/<way>; the reply."""
    query = f"?via={via}" if via else ""
    return http_post(sandbox, f"signup/{way}{query}", {"email": email, "name": email.split("@")[0], **fields})


def welcomed(sandbox) -> list[str]:
    """The addresses the welcome mails in the inbox went to, sorted."""
    return sorted(to for m in sandbox.mail_server.messages if m.subject == "Welcome!" for to in m.rcpt_tos)


def user_emails(sandbox) -> list[str]:
    """The addresses GET /api/users lists, sorted."""
    return sorted(user["email"] for user in get_json(sandbox, "api/users")["users"])


STATE_VARIABLES = ("SANDBOX_STATE_DIR", "XDG_STATE_HOME")


@pytest.fixture(scope="module")
def shared_sandbox(module_database_url, tmp_path_factory):  # noqa: F811
    """One sandbox per database for this module's tests, its Huey consumer and its outbox relay running; its state
    folder (where its Huey queue lives) is the one every test of the module then uses."""
    folder = tmp_path_factory.mktemp("signup-state")
    with pytest.MonkeyPatch.context() as patch:
        for variable in STATE_VARIABLES:
            patch.setenv(variable, str(folder))
        with Sandbox(SandboxConfig.resolve(database_url=module_database_url)) as sandbox:
            sandbox.start_consumer(workers=2)
            sandbox.start_relay()
            yield sandbox, folder


@pytest.fixture
def signup_sandbox(shared_sandbox, monkeypatch):
    """The module's sandbox with no users, no mail and zero counters: each test's tasks have settled by its end."""
    sandbox, folder = shared_sandbox
    for variable in STATE_VARIABLES:
        monkeypatch.setenv(variable, str(folder))  # the queue's file is found where the consumer works it
    assert http_call("DELETE", sandbox, "api/users").status == 200
    assert http_call("DELETE", sandbox, "api/stats").status == 200
    sandbox.mail_server.clear()
    yield sandbox
    sandbox.commit_gate.release()
    eventually(tasks_settled("queue", sandbox.app), timeout=10)


@pytest.mark.parametrize("way", WAYS)
def test_each_way_welcomes_a_sign_up_once_and_never_a_duplicate_nor_a_rollback(signup_sandbox, way):
    sandbox = signup_sandbox
    created = sign_up(sandbox, way, "ana@example.com")
    assert created.status == 201, created.text
    assert created.json["user"]["email"] == "ana@example.com" and created.json["way"] == way
    again = sign_up(sandbox, way, "ana@example.com")
    assert again.status == 409 and again.json == {"error": "ana@example.com has already signed up"}
    failed = sign_up(sandbox, way, "bo@example.com", fail_after_enqueue=True)
    assert failed.status == 422
    assert failed.json == {"error": "a later step of the sign-up of bo@example.com failed: the transaction rolled back"}
    assert user_emails(sandbox) == ["ana@example.com"]
    # The task a rollback left queued runs first: on SQLite the next user would get the rolled-back id, and its
    # welcome twice (SQLite gives a rolled-back rowid again; PostgreSQL's sequence never does).
    eventually(tasks_settled("queue", sandbox.app), timeout=10)
    # A mark after the rolled-back one, the same way (the outbox) or after the commit: once it is welcomed, whatever
    # the rollback left queued has run too.
    mark = sign_up(sandbox, "outbox" if way == "outbox" else "after-commit", "mark@example.com")
    assert mark.status == 201
    eventually(lambda: "mark@example.com" in welcomed(sandbox), timeout=10)
    eventually(tasks_settled("queue", sandbox.app), timeout=10)
    stats = get_json(sandbox, "api/stats")["queue"]
    if way == "inline":  # sent before the later step failed: a mail cannot be taken back
        assert welcomed(sandbox) == ["ana@example.com", "bo@example.com", "mark@example.com"]
    elif way == "in-transaction":
        # Without the gate the worker may look before the commit (the race the next test makes certain); the
        # rolled-back sign-up's task ran, and found nobody.
        assert welcomed(sandbox) in (["mark@example.com"], ["ana@example.com", "mark@example.com"])
        assert stats["failed"] == 3 - len(welcomed(sandbox))
        assert stats["last_error"].startswith("LookupError: no user ")
    else:
        assert welcomed(sandbox) == ["ana@example.com", "mark@example.com"] and stats["failed"] == 0
    assert user_emails(sandbox) == ["ana@example.com", "mark@example.com"]


def test_the_commit_gate_makes_the_in_transaction_race_happen_every_time(signup_sandbox):
    sandbox = signup_sandbox
    gate = sandbox.commit_gate
    emails = [f"user{n}@example.com" for n in range(3)]
    # Each commit waits until the worker has run the task its request queued: it looked before the commit.
    with gate.holding(until=tasks_settled("queue", sandbox.app), timeout=20):
        replies = [sign_up(sandbox, "in-transaction", email) for email in emails]
        assert gate.passed == 3
    assert [reply.status for reply in replies] == [201] * 3
    assert user_emails(sandbox) == emails  # every user exists
    stats = get_json(sandbox, "api/stats")["queue"]
    assert stats["failed"] == 3 and stats["delivered"] == 0  # and not one was welcomed
    assert welcomed(sandbox) == []
    # The same gate, the after-commit way: the task is queued after the commit, and welcomes every one.
    with gate.holding(until=tasks_settled("queue", sandbox.app), timeout=20):
        after = [sign_up(sandbox, "after-commit", f"later{n}@example.com") for n in range(3)]
    assert [reply.status for reply in after] == [201] * 3
    eventually(lambda: len(welcomed(sandbox)) == 3, timeout=10)


def test_a_held_commit_waits_until_released(signup_sandbox):
    sandbox = signup_sandbox
    gate = sandbox.commit_gate
    gate.hold()
    replies = []
    request = threading.Thread(target=lambda: replies.append(sign_up(sandbox, "after-commit", "held@example.com")))
    request.start()
    try:
        eventually(lambda: gate.waiting == 1)
        assert user_emails(sandbox) == []  # not committed: nobody else sees the user
    finally:
        gate.release()
        request.join(10)
    assert replies[0].status == 201 and user_emails(sandbox) == ["held@example.com"]
    eventually(lambda: welcomed(sandbox) == ["held@example.com"], timeout=10)


def test_the_task_that_carries_the_address_welcomes_a_rolled_back_sign_up(signup_sandbox):
    sandbox = signup_sandbox
    failed = sign_up(sandbox, "in-transaction-address", "ghost@example.com", fail_after_enqueue=True)
    assert failed.status == 422 and user_emails(sandbox) == []
    eventually(lambda: welcomed(sandbox) == ["ghost@example.com"], timeout=10)  # mail for nobody


def test_users_api_lists_and_clears(signup_sandbox):
    sandbox = signup_sandbox
    for email in ("a@example.com", "b@example.com"):
        assert sign_up(sandbox, "after-commit", email).status == 201
    listed = get_json(sandbox, "api/users")
    assert listed["count"] == 2 and [u["email"] for u in listed["users"]] == ["b@example.com", "a@example.com"]
    assert get_json(sandbox, "api/users?limit=1")["users"][0]["email"] == "b@example.com"
    assert http_get(sandbox, "api/users?limit=0").status == 400
    assert http_call("DELETE", sandbox, "api/users").json == {"deleted": 2}
    assert get_json(sandbox, "api/users") == {"count": 0, "users": []}


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("signup/nope", {"email": "a@example.com", "name": "A"}, 404, "unknown way 'nope'; choose one of: inline, "),
        ("signup/outbox", {"name": "A"}, 400, "missing field(s): email (send email and name)"),
        ("signup/outbox", {"email": "not an address", "name": "A"}, 400, "'email' is not a valid email address: "),
        ("signup/outbox", {"email": "a@example.com", "name": 7}, 400, "'name' must be a string"),
        ("signup/outbox", {"email": "a@example.com", "name": " "}, 400, "'name' must be 1 to 200 characters"),
        ("signup/outbox", {"email": "a@example.com", "name": "A\r\nBcc: x"}, 400, "'name' must not contain CR or LF"),
        ("signup/outbox", {"email": "a@example.com", "name": "A", "fail_after_enqueue": "yes"}, 400,
         "'fail_after_enqueue' must be true or false"),
        ("signup/outbox?via=kafka", {"email": "a@example.com", "name": "A"}, 400,
         "unknown queue ?via='kafka'; choose one of: queue, celery, rq"),
        ("signup/inline?via=rq", {"email": "a@example.com", "name": "A"}, 400,
         "the inline way sends in the request: it takes no ?via="),
    ],
)  # fmt: skip
def test_bad_sign_ups_get_a_json_error_and_change_nothing(signup_sandbox, path, body, status, error):
    sandbox = signup_sandbox
    reply = http_post(sandbox, path, body)
    assert reply.status == status and reply.json["error"].startswith(error), reply.text
    assert user_emails(sandbox) == []


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "signup/after-commit"), ("GET", "api/users"), ("DELETE", "api/users")]
)
def test_the_sign_up_routes_need_the_key(signup_sandbox, method, path):
    sandbox = signup_sandbox
    reply = http_call(
        method, sandbox, path, {"email": "a@example.com", "name": "A"}, headers={"X-Sandbox-Key": "wrong-key-1"}
    )
    assert reply.status == 403 and "needs its key" in reply.json["error"]
    assert user_emails(sandbox) == []


def test_an_inline_sign_up_whose_mail_server_refuses_rolls_back(signup_sandbox):
    sandbox = signup_sandbox
    sandbox.mail_server.configure(faults={"RCPT": {"code": 550, "message": "No such user"}})
    try:
        reply = sign_up(sandbox, "inline", "gone@example.com")
    finally:
        sandbox.mail_server.configure(faults={})
    assert reply.status == 502 and reply.json["error"].startswith("mail server refused the message")
    assert user_emails(sandbox) == []


def test_the_commit_gate_over_http(signup_sandbox):
    sandbox = signup_sandbox
    assert get_json(sandbox, "api/commit-gate")["held"] is False
    held = http_call("PUT", sandbox, "api/commit-gate", {"held": True, "until_settled": "queue", "timeout": 5})
    assert held.json == {"held": True, "at": "before-commit", "waiting": 0, "passed": 0}
    assert sign_up(sandbox, "in-transaction", "gated@example.com").status == 201  # let through once its task ran
    assert get_json(sandbox, "api/commit-gate")["passed"] == 1 and welcomed(sandbox) == []
    assert http_call("PUT", sandbox, "api/commit-gate", {"held": False}).json["held"] is False
    for body, error in [
        ({"held": "yes"}, 'send a JSON object such as {"held": true'),
        ({"held": True, "at": "during"}, "'at' is one of before-commit, after-commit, got 'during'"),
        ({"held": True, "until_settled": "kafka"}, "'until_settled' names a queue: one of queue, celery, rq"),
        ({"held": True, "timeout": 0}, "'timeout' is a number of seconds from 0 to 3600, got 0"),
        ({"held": True, "colour": "red"}, "unknown setting(s): colour"),
    ]:
        reply = http_call("PUT", sandbox, "api/commit-gate", body)
        assert reply.status == 400 and reply.json["error"].startswith(error), reply.text
    assert get_json(sandbox, "api/commit-gate")["held"] is False

"""The sandbox's key: without it HTTP gets 403 and changes nothing, SMTP gets 530 and captures nothing."""

import itertools
import json
import re
import smtplib
import sys

import pytest
from playwright.sync_api import expect

from sandbox_app import Sandbox, SandboxConfig, create_app
from sandbox_app.addresses import auth_headers, key_link
from sandbox_app.mailer.background import get_background
from sandbox_app.mailer.stats import get_stats
from sandbox_app.measuring import timed_exchange
from sandbox_app.patterns.signup import WAYS as SIGNUP_WAYS
from sandbox_app.processes.child import ChildProcess
from sandbox_app.web.access import KEY_HEADER, cookie_name
from sandbox_app.web.send import PATTERNS as SEND_PATTERNS

EMAIL = {"to": "learner@example.com", "subject": "Hello", "body": "Only with the key."}
RAW_MAIL = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: knock\r\n\r\nhello\r\n"


def request(sandbox, method, path, json_body=None, headers=None):
    """One request from an outside client (a fresh connection); the Exchange."""
    return timed_exchange(sandbox.url + path.lstrip("/"), method, json_body, 10, headers)


@pytest.fixture
def keyed():
    """A running sandbox with a known key, stopped after the test."""
    with Sandbox(SandboxConfig.resolve(key="test-key-0123456789")) as sandbox:
        yield sandbox


@pytest.fixture
def opened():
    """A running sandbox started with open=True (no key, no SMTP AUTH)."""
    with Sandbox(SandboxConfig.resolve(open=True)) as sandbox:
        yield sandbox


# The values that fill a rule's variables (every pattern the send route knows), and the body a request with the
# key would act on.
RULE_ARGUMENTS = {"pattern": list(SEND_PATTERNS), "filename": ["sandbox.js"], "way": list(SIGNUP_WAYS)}
BODIES = {"/send/bulk": {**EMAIL, "to": ["a@example.com"]}, "/api/smtp": {"delay": 3600}}


def every_route() -> list:
    """(method, path, body) of every rule of the app's url_map, each of its methods and variable values, static too.

    Read from the app itself: a route added later is in the matrix below without an edit here.
    """
    app = create_app({"TESTING": True})
    routes = []
    for rule in app.url_map.iter_rules():
        names = sorted(rule.arguments - set(rule.defaults or {}))
        for values in itertools.product(*(RULE_ARGUMENTS[name] for name in names)):
            filled = dict(zip(names, values, strict=True))
            path = re.sub(r"<(?:\w+:)?(\w+)>", lambda variable, filled=filled: filled[variable[1]], rule.rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):  # Flask answers these two for every rule
                body = BODIES.get(path, EMAIL) if method in ("POST", "PUT") else None
                routes.append(pytest.param(method, path, body, id=f"{method} {path}"))
    get_background(app).finish(timeout=5)
    return routes


ROUTES = every_route()


def test_the_matrix_holds_every_route():
    # The matrix can fail only if it is not empty: these are routes the README names.
    covered = {(method, path) for method, path, _body in (param.values for param in ROUTES)}
    named = {
        ("GET", "/"),
        ("GET", "/api/queue"),
        ("POST", "/send/queue"),
        ("PUT", "/api/smtp"),
        ("GET", "/static/sandbox.js"),
    }
    assert named <= covered, named - covered


@pytest.mark.parametrize("method, path, body", ROUTES)
@pytest.mark.parametrize("key", [None, "wrong-key-0123456789"], ids=["no-key", "wrong-key"])
def test_without_the_key_every_route_answers_403_and_changes_nothing(keyed, method, path, body, key):
    setup = request(keyed, "POST", "send/blocking", EMAIL, auth_headers(keyed))  # one message, so a DELETE has work
    assert setup.sample.status == 200 and len(keyed.mail_server.store) == 1
    assert get_stats(keyed.app).snapshot()["blocking"]["delivered"] == 1
    before = (keyed.mail_server.settings, len(keyed.mail_server.store), json.dumps(get_stats(keyed.app).snapshot()))

    answer = request(keyed, method, path, body, {KEY_HEADER: key} if key else None)

    assert answer.sample.status == 403
    assert "key" in json.loads(answer.body)["error"]
    after = (keyed.mail_server.settings, len(keyed.mail_server.store), json.dumps(get_stats(keyed.app).snapshot()))
    assert after == before


def test_the_header_lets_a_client_in(keyed):
    sent = request(keyed, "POST", "send/blocking", EMAIL, auth_headers(keyed))
    assert sent.sample.status == 200
    assert [m.subject for m in keyed.mail_server.messages] == ["Hello"]


def test_a_key_link_sets_a_strict_httponly_cookie_under_the_proxy_path_and_drops_the_key(keyed):
    prefix = f"/user/ana/proxy/{keyed.port}"
    answer = request(keyed, "GET", f"inbox?key={keyed.key}&page=2", headers={"X-Forwarded-Prefix": prefix})
    assert answer.sample.status == 303
    assert answer.headers["Location"] == "inbox?page=2"  # relative: the key leaves the address bar, the prefix stays
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith(f"{cookie_name(keyed.key)}={keyed.key};")
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    assert "httponly" in attributes and attributes["samesite"] == "SameSite=Strict"
    assert attributes["path"] == f"Path={prefix}/"

    with_cookie = request(keyed, "GET", "inbox", headers={"Cookie": cookie.split(";")[0]})
    assert with_cookie.sample.status == 200
    wrong_cookie = request(keyed, "GET", "inbox", headers={"Cookie": f"{cookie_name(keyed.key)}=guess-0123456789"})
    assert wrong_cookie.sample.status == 403


def test_a_key_in_the_query_of_a_post_does_not_count(keyed):
    # Only a link a browser opens (GET) trades the key for a cookie; a form or script posting it does not.
    answer = request(keyed, "POST", f"send/blocking?key={keyed.key}", EMAIL)
    assert answer.sample.status == 403
    assert len(keyed.mail_server.store) == 0


def cookie_of(sandbox) -> str:
    """The `name=value` of the cookie a sandbox's key link sets."""
    answer = request(sandbox, "GET", f"inbox?key={sandbox.key}")
    assert answer.sample.status == 303
    return answer.headers["Set-Cookie"].split(";")[0]


def test_two_sandboxes_on_one_host_keep_their_cookies_apart(keyed):
    # A browser sends every cookie of 127.0.0.1 to every port: each sandbox must pick out its own.
    with Sandbox(SandboxConfig.resolve(key="another-key-0123456789")) as other:
        mine, theirs = cookie_of(keyed), cookie_of(other)
        assert mine.split("=")[0] != theirs.split("=")[0]  # two cookies side by side, neither overwrites the other
        assert request(other, "GET", "inbox", headers={"Cookie": mine}).sample.status == 403
        assert request(keyed, "GET", "inbox", headers={"Cookie": theirs}).sample.status == 403
        both = f"{mine}; {theirs}"
        assert request(keyed, "GET", "inbox", headers={"Cookie": both}).sample.status == 200
        assert request(other, "GET", "inbox", headers={"Cookie": both}).sample.status == 200


def test_smtp_without_auth_gets_530_and_nothing_is_captured(keyed):
    with (
        smtplib.SMTP("127.0.0.1", keyed.smtp_port, timeout=10) as client,
        pytest.raises(smtplib.SMTPSenderRefused) as refused,
    ):
        client.sendmail("a@example.com", ["b@example.com"], RAW_MAIL)
    assert refused.value.smtp_code == 530
    assert len(keyed.mail_server.store) == 0


def test_smtp_with_a_wrong_password_is_refused(keyed):
    with (
        smtplib.SMTP("127.0.0.1", keyed.smtp_port, timeout=10) as client,
        pytest.raises(smtplib.SMTPAuthenticationError),
    ):
        client.login("sandbox", "not-the-key-123")
    assert len(keyed.mail_server.store) == 0


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_smtp_with_auth_is_captured(keyed, mechanism):
    user, password = keyed.mail_server.login
    with smtplib.SMTP("127.0.0.1", keyed.smtp_port, timeout=10) as client:
        client.ehlo()
        client.user, client.password = user, password
        client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
        client.sendmail("a@example.com", ["b@example.com"], RAW_MAIL)
    assert [m.subject for m in keyed.mail_server.messages] == ["knock"]


def test_every_pattern_logs_in_with_the_key(keyed):
    keyed.start_consumer()
    expected = {"blocking": 200, "threaded": 202, "pool": 202, "queue": 202}  # done, or accepted for later
    statuses = {p: request(keyed, "POST", f"send/{p}", EMAIL, auth_headers(keyed)).sample.status for p in expected}
    assert statuses == expected
    bulk = request(keyed, "POST", "send/bulk", {**EMAIL, "to": ["a@example.com", "b@example.com"]}, auth_headers(keyed))
    assert bulk.sample.status == 200 and json.loads(bulk.body)["connections"] == 1  # logged in once, reused
    assert len(keyed.mail_server.wait_for(6)) == 6


def test_open_turns_both_checks_off(opened):
    assert opened.key is None and opened.mail_server.login is None
    assert request(opened, "POST", "send/blocking", EMAIL).sample.status == 200
    with smtplib.SMTP("127.0.0.1", opened.smtp_port, timeout=10) as client:
        client.sendmail("a@example.com", ["b@example.com"], RAW_MAIL)
    assert len(opened.mail_server.store) == 2


def test_a_random_key_is_the_default(monkeypatch):
    monkeypatch.delenv("SANDBOX_KEY", raising=False)
    monkeypatch.delenv("SANDBOX_OPEN", raising=False)
    keys = []
    for _ in range(2):
        with Sandbox() as sandbox:
            keys.append(sandbox.key)
    assert all(key and len(key) >= 16 for key in keys) and keys[0] != keys[1]


def test_sandbox_links_carry_the_key_once(keyed):
    assert key_link(keyed, "inbox") == f"{keyed.url}inbox?key={keyed.key}"
    assert f"?key={keyed.key}" in keyed._repr_html_()


@pytest.mark.browser
def test_the_cli_prints_a_link_that_opens_the_page_in_chromium(chromium, tmp_path):
    printed = lambda: re.search(r"app:\s+(\S+\?key=\S+)", cli.read_log())  # noqa: E731
    cli = ChildProcess([sys.executable, "-u", "-m", "sandbox_app", "--port", "0"], tmp_path / "cli.log",
                       what="the CLI", ready=printed)  # fmt: skip
    with cli.start(timeout=30):  # read with a deadline: a CLI that never prints fails here, not at pytest's timeout
        link = printed().group(1)
        # Closed on leaving the block, failed or not: a context left open holds its pages' connections.
        with chromium.new_context() as context, chromium.new_context() as stranger:
            page = context.new_page()
            page.goto(link)
            expect(page.locator("button.send").first).to_be_visible()
            assert "key=" not in page.url  # the key was traded for a cookie
            stats = page.evaluate("fetch('api/stats').then(r => r.status)")
            assert stats == 200  # the page's own requests carry the cookie
            answer = stranger.new_page().goto(link.split("?")[0])
            assert answer.status == 403

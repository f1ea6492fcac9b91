"""On one hub machine, learner B reaches learner A's sandbox port through B's own proxy path: 403, nothing changed."""

import json
import re
import smtplib

import pytest
from hub_fixtures import log_in

pytestmark = pytest.mark.hub
STATE_DIR = ".local/state/flask-mail-sandbox"
DELAY = 0.3  # the launcher's sandbox: sandbox_app.jupyter_proxy.LAUNCHER_SMTP_DELAY


def sandbox_port(hub, name):
    """The app port of the learner's launcher sandbox, from the log file it names after it."""
    (log,) = (hub.homes / name / STATE_DIR / "logs").glob("sandbox-*.log")
    return int(re.fullmatch(r"sandbox-(\d+)\.log", log.name).group(1))


@pytest.mark.browser
def test_a_learner_cannot_use_another_learners_sandbox_through_their_own_proxy(hub, chromium):
    """On one hub machine, B reaches A's sandbox port through B's own proxy path: 403, nothing changed."""
    owner, other = "cleo", "dan"
    tokens = hub.start_learners([owner, other])

    def call(name, method, url, body=None):
        return hub.request(method, url, body, token=tokens[name], timeout=60)

    # The owner opens her launcher sandbox: jupyter-server-proxy adds her key, so it just works.
    owner_sandbox = hub.user_url(owner) + "sandbox/"
    status, state = call(owner, "GET", owner_sandbox + "api/smtp")
    assert status == 200 and state["settings"]["delay"] == DELAY
    mail = {"to": "a@example.com", "subject": "hers", "body": "x"}
    assert call(owner, "POST", owner_sandbox + "send/blocking", mail)[0] == 200
    port = sandbox_port(hub, owner)

    # The other, logged in to his own server, tries her port through his proxy: the sandbox refuses.
    other_proxy = f"{hub.user_url(other)}proxy/{port}/"
    for method, path, body in [("GET", "", None), ("GET", "api/messages", None), ("PUT", "api/smtp", {"delay": 3600})]:
        status, reply = call(other, method, other_proxy + path, body)
        assert status == 403, (method, path, status, reply)
        assert "key" in (reply["error"] if isinstance(reply, dict) else json.loads(reply)["error"])

    # In his browser too: the page itself answers 403.
    context = chromium.new_context()
    try:
        page = context.new_page()
        log_in(page, hub, other)
        answer = page.goto(other_proxy)
        assert answer.status == 403
        answer = page.goto(other_proxy + "api/messages")
        assert answer.status == 403 and "key" in answer.json()["error"]
    finally:
        context.close()

    # Nothing changed for the owner: her delay, and her one message.
    status, state = call(owner, "GET", owner_sandbox + "api/smtp")
    assert state["settings"]["delay"] == DELAY
    assert [m["subject"] for m in call(owner, "GET", owner_sandbox + "api/messages")[1]["messages"]] == ["hers"]

    # Over SMTP from the same machine, without her key: refused, nothing captured.
    host, smtp_port = state["address"].split(":")
    with smtplib.SMTP(host, int(smtp_port), timeout=10) as client, pytest.raises(smtplib.SMTPSenderRefused) as refused:
        client.sendmail("dan@example.com", ["cleo@example.com"], b"Subject: hi\r\n\r\nfrom dan")
    assert refused.value.smtp_code == 530
    assert call(owner, "GET", owner_sandbox + "api/messages")[1]["total"] == 1

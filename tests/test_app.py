"""The app's HTTP contract, with real SMTP to the debug mail server."""

import smtplib
import threading

import pytest
from helpers import EMAIL, eventually

from sandbox_app.mailer.background import get_background
from sandbox_app.web.compose import MAX_BODY_BYTES


def test_ping(client):
    response = client.get("/ping")
    assert response.status_code == 200
    assert response.json == {"pong": True}


def test_blocking_answers_200_after_the_mail_is_captured(client, mail_server):
    response = client.post("/send/blocking", json=EMAIL)
    assert response.status_code == 200
    assert response.json == {"pattern": "blocking", "status": "sent", "to": EMAIL["to"]}
    (message,) = mail_server.messages  # already there: the request waited for it
    assert message.rcpt_tos == (EMAIL["to"],)
    assert message.subject == EMAIL["subject"]
    assert message.body.strip() == EMAIL["body"]
    assert message.mail_from == "sandbox@example.com"


def test_threaded_answers_202_and_the_mail_still_arrives(client, mail_server):
    with mail_server.holding():
        response = client.post("/send/threaded", json=EMAIL)
        assert response.status_code == 202
        assert response.json["status"] == "accepted"
        assert mail_server.messages == []  # answered while the mail server still held the mail
    (message,) = mail_server.wait_for(1, timeout=5)
    assert message.subject == EMAIL["subject"]


def test_form_posts_are_accepted(client, mail_server):
    response = client.post("/send/blocking", data=EMAIL)
    assert response.status_code == 200
    assert len(mail_server.messages) == 1


def test_stats_count_each_pattern(client, mail_server):
    client.post("/send/blocking", json=EMAIL)
    client.post("/send/threaded", json=EMAIL)
    mail_server.wait_for(2, timeout=5)
    eventually(lambda: client.get("/api/stats").json["threaded"]["delivered"] == 1)
    stats = client.get("/api/stats").json
    expected = {"accepted": 1, "delivered": 1, "failed": 0, "retried": 0, "last_error": None}
    assert stats["blocking"] == expected
    assert stats["threaded"] == expected
    assert client.delete("/api/stats").json["blocking"]["accepted"] == 0


BAD_REQUESTS = [
    pytest.param({"subject": "s", "body": "b"}, 400, "missing field(s): to", id="missing-to"),
    pytest.param({"to": "a@example.com", "body": "b"}, 400, "missing field(s): subject", id="missing-subject"),
    pytest.param({**EMAIL, "to": "not an address"}, 400, "not a valid email address", id="invalid-address"),
    pytest.param({**EMAIL, "to": "a@"}, 400, "not a valid email address", id="address-without-domain"),
    pytest.param({**EMAIL, "to": "a@example.com, b@example.com"}, 400, "not a valid", id="two-addresses"),
    pytest.param({**EMAIL, "to": "a@example.com\r\nBcc: x@evil.test"}, 400, "CR or LF", id="crlf-in-to"),
    pytest.param({**EMAIL, "subject": "Hi\nBcc: x@evil.test"}, 400, "CR or LF", id="lf-in-subject"),
    pytest.param({**EMAIL, "subject": "Hi\r"}, 400, "CR or LF", id="cr-in-subject"),
    pytest.param({**EMAIL, "body": 42}, 400, "'body' must be a string", id="body-not-text"),
    pytest.param({**EMAIL, "body": "x" * (MAX_BODY_BYTES + 1)}, 413, "larger than 1 MiB", id="body-over-1mib"),
    pytest.param(
        {**EMAIL, "body": "x" * (3 * MAX_BODY_BYTES)}, 413, "exceeds the capacity limit", id="request-over-limit"
    ),
    pytest.param(["not", "an", "object"], 400, "expected a JSON object", id="json-array"),
]


@pytest.mark.parametrize("pattern", ["blocking", "threaded"])
@pytest.mark.parametrize(("payload", "status", "message"), BAD_REQUESTS)
def test_bad_input_is_refused_and_nothing_is_sent(client, mail_server, pattern, payload, status, message):
    response = client.post(f"/send/{pattern}", json=payload)
    assert response.status_code == status
    assert message in response.json["error"]
    assert set(response.json) == {"error"}
    get_background(client.application).finish(timeout=10)  # a thread started by mistake would be waited for here
    assert mail_server.messages == []
    assert client.get("/api/stats").json[pattern]["accepted"] == 0


def test_malformed_json(client, mail_server):
    response = client.post("/send/blocking", data='{"to": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json == {"error": "the request body is not valid JSON"}
    assert mail_server.messages == []


def test_unknown_pattern_is_404_json(client):
    response = client.post("/send/carrier-pigeon", json=EMAIL)
    assert response.status_code == 404
    assert "unknown pattern 'carrier-pigeon'" in response.json["error"]


def test_wrong_method_is_405_json(client):
    response = client.get("/send/blocking")
    assert response.status_code == 405
    assert "error" in response.json


@pytest.mark.parametrize(
    ("fault", "smtp_code"),
    [({"MAIL": {"code": 451}}, 451), ({"RCPT": {"code": 550}}, 550), ({"DATA": {"code": 554}}, 554)],
)
def test_blocking_refused_is_502_with_the_smtp_reply(client, mail_server, fault, smtp_code):
    mail_server.configure(faults=fault)
    response = client.post("/send/blocking", json=EMAIL)
    assert response.status_code == 502
    assert response.json["smtp_code"] == smtp_code
    assert str(smtp_code) in response.json["error"]
    assert "Sandbox fault injected" in response.json["error"]
    stats = client.get("/api/stats").json["blocking"]
    assert (stats["accepted"], stats["delivered"], stats["failed"]) == (1, 0, 1)
    assert str(smtp_code) in stats["last_error"]


def test_blocking_dropped_connection_is_503(client, mail_server):
    mail_server.configure(faults={"DATA": {"drop": True}})
    response = client.post("/send/blocking", json=EMAIL)
    assert response.status_code == 503
    assert "mail server unavailable" in response.json["error"]


def test_blocking_connection_limit_is_503_with_421(client, mail_server):
    mail_server.configure(max_connections=1)
    import smtplib

    with smtplib.SMTP(mail_server.host, mail_server.port, timeout=5):  # holds the only slot
        response = client.post("/send/blocking", json=EMAIL)
    assert response.status_code == 503
    assert response.json["smtp_code"] == 421


def test_blocking_server_down_is_503(app, client, mail_server):
    mail_server.stop()
    response = client.post("/send/blocking", json=EMAIL)
    assert response.status_code == 503
    assert "Connection refused" in response.json["error"]
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_threaded_failure_reaches_stderr_and_the_sandbox_counters_never_the_client(
    app, client, mail_server, caplog, monkeypatch
):
    raised = []
    monkeypatch.setattr(threading, "excepthook", raised.append)  # what Python would print to stderr
    mail_server.configure(faults={"RCPT": {"code": 550, "message": "No such user"}})
    response = client.post("/send/threaded", json=EMAIL)
    assert response.status_code == 202  # the request could not know
    eventually(lambda: raised)
    assert isinstance(raised[0].exc_value, smtplib.SMTPRecipientsRefused)
    eventually(lambda: client.get("/api/stats").json["threaded"]["failed"] == 1)
    stats = client.get("/api/stats").json["threaded"]
    assert (stats["accepted"], stats["delivered"], stats["failed"]) == (1, 0, 1)
    assert stats["last_error"] == "recipient refused: 550 No such user"
    assert "threaded: mail not delivered: recipient refused: 550 No such user" in caplog.text


def test_messages_api(client, mail_server):
    client.post("/send/blocking", json=EMAIL)
    listing = client.get("/api/messages").json
    assert listing["count"] == 1
    assert listing["messages"][0]["subject"] == EMAIL["subject"]
    assert listing["messages"][0]["rcpt_tos"] == [EMAIL["to"]]
    assert client.delete("/api/messages").json == {"deleted": 1}
    assert client.get("/api/messages").json == {"count": 0, "total": 0, "messages": []}


def test_smtp_settings_api(client, mail_server):
    state = client.get("/api/smtp").json
    assert state["address"] == mail_server.address
    assert state["settings"]["delay"] == 0.0
    changed = client.put("/api/smtp", json={"delay": 0.25, "faults": {"DATA": {"code": 451, "probability": 0.5}}})
    assert changed.status_code == 200
    assert changed.json["settings"]["delay"] == 0.25
    assert changed.json["settings"]["faults"] == {"DATA": {"code": 451, "probability": 0.5}}
    assert mail_server.settings.delay == 0.25


@pytest.mark.parametrize(
    ("payload", "message"),
    [({"delay": "slow"}, "'delay' must be a number"), ({"nope": 1}, "unknown setting"), ([1], "JSON object")],
)
def test_smtp_settings_api_refuses_bad_values(client, mail_server, payload, message):
    response = client.put("/api/smtp", json=payload)
    assert response.status_code == 400
    assert message in response.json["error"]
    assert mail_server.settings.delay == 0.0


def test_pages_render(client):
    index = client.get("/")
    assert index.status_code == 200
    for pattern in ("blocking", "threaded"):
        assert f'data-url="/send/{pattern}"' in index.get_data(as_text=True)
    client.post("/send/blocking", json={**EMAIL, "subject": "<b>escaped?</b>"})
    inbox = client.get("/inbox").get_data(as_text=True)
    assert "&lt;b&gt;escaped?&lt;/b&gt;" in inbox
    assert "1 message(s) captured" in inbox


def test_app_without_mail_server_says_so():
    from sandbox_app import create_app

    client = create_app({"TESTING": True}).test_client()
    response = client.get("/api/messages")
    assert response.status_code == 503
    assert "no debug mail server attached" in response.json["error"]

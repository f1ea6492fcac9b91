"""The bulk pattern: many messages over one SMTP connection, every one counted; input checked."""

import pytest
from helpers import EMAIL

from sandbox_app.web.bulk import MAX_RECIPIENTS

RECIPIENTS = [f"reader{n}@example.com" for n in range(1, 21)]


def post_bulk(client, recipients=RECIPIENTS, **extra):
    """POST /send/bulk with the test email going to `recipients`."""
    return client.post("/send/bulk", json={**EMAIL, "to": recipients, **extra})


def test_one_connection_carries_every_message(client, mail_server):
    response = post_bulk(client)
    assert response.status_code == 200
    report = response.json
    assert (report["delivered"], report["failed"], report["connections"], report["reuse"]) == (20, [], 1, True)
    assert len(report["message_ms"]) == 20
    assert mail_server.counters()["connections"] == 1
    assert [m.rcpt_tos for m in mail_server.messages] == [(r,) for r in RECIPIENTS]  # one message each, in order
    stats = client.get("/api/stats").json["bulk"]
    assert (stats["accepted"], stats["delivered"], stats["failed"]) == (20, 20, 0)


def test_without_reuse_every_message_opens_its_own_connection(client, mail_server):
    report = post_bulk(client, reuse=False).json
    assert (report["delivered"], report["connections"], report["reuse"]) == (20, 20, False)
    assert mail_server.counters()["connections"] == 20


def test_reuse_saves_the_connect_delay_of_every_message_but_the_first(client, mail_server):
    delay = 0.05
    mail_server.configure(connect_delay=delay)
    each = post_bulk(client, reuse=False).json
    reused = post_bulk(client, reuse=True).json
    # Measured in one run: each extra connection waits `delay` for its greeting; reuse waits once.
    assert each["seconds"] - reused["seconds"] >= 0.9 * (len(RECIPIENTS) - 1) * delay
    assert reused["seconds"] < each["seconds"] / 3


def test_a_refused_recipient_is_counted_and_the_rest_still_go(client, mail_server):
    mail_server.configure(faults={"RCPT": {"code": 550, "probability": 0.5, "message": "No such user"}}, seed=7)
    response = post_bulk(client)
    assert response.status_code == 207  # some sent, some not: the body says which
    report = response.json
    refused = mail_server.counters()["faults"]["RCPT"]
    assert 0 < refused < 20
    assert report["delivered"] == 20 - refused == len(mail_server.messages)
    assert len(report["failed"]) == refused
    assert {f["error"] for f in report["failed"]} == {"recipient refused: 550 No such user"}
    assert report["connections"] == 1  # a refusal does not break the connection
    stats = client.get("/api/stats").json["bulk"]
    assert (stats["delivered"], stats["failed"]) == (20 - refused, refused)


@pytest.mark.parametrize("reuse", [True, False], ids=["reuse", "each"])
def test_every_recipient_refused_is_a_502_in_json(client, mail_server, reuse):
    mail_server.configure(faults={"RCPT": {"code": 550, "message": "No such user"}})
    response = post_bulk(client, RECIPIENTS[:3], reuse=reuse)
    assert response.status_code == 502  # the server answered, and refused: not "unavailable" (503)
    assert response.is_json and "Retry-After" not in response.headers
    report = response.json
    assert report["error"] == "mail server refused the message: recipient refused: 550 No such user"
    assert report["smtp_code"] == 550
    assert report["delivered"] == 0
    assert [failure["to"] for failure in report["failed"]] == RECIPIENTS[:3]
    assert mail_server.messages == [] and mail_server.counters()["faults"]["RCPT"] == 3
    stats = client.get("/api/stats").json["bulk"]
    assert (stats["accepted"], stats["delivered"], stats["failed"]) == (3, 0, 3)


def test_a_connection_that_breaks_is_opened_again_and_each_message_tried_once(client, mail_server):
    mail_server.configure(faults={"DATA": {"drop": True, "probability": 0.25}}, seed=3)
    report = post_bulk(client).json
    dropped = mail_server.counters()["dropped"]
    assert dropped > 0
    assert report["delivered"] + len(report["failed"]) == 20  # nothing silently skipped
    assert len(report["failed"]) == dropped
    assert report["connections"] == dropped + 1
    assert report["delivered"] == len(mail_server.messages)


def test_a_mail_server_that_is_down_is_a_503_with_every_message_counted(client, mail_server):
    mail_server.stop()
    response = post_bulk(client, RECIPIENTS[:3])
    assert response.status_code == 503
    assert response.json["error"].startswith("mail server unavailable")
    assert response.json["delivered"] == 0 and len(response.json["failed"]) == 3
    stats = client.get("/api/stats").json["bulk"]
    assert (stats["accepted"], stats["failed"]) == (3, 3)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param({**EMAIL, "to": 42}, "'to' must be a list of email addresses", id="to-not-a-list"),
        pytest.param({**EMAIL, "to": []}, "'to' must be a list of email addresses", id="to-empty"),
        pytest.param(
            {**EMAIL, "to": ["a@example.com", "not an address"]}, "not a valid email address", id="bad-address"
        ),
        pytest.param(
            {**EMAIL, "to": ["a@example.com"] * (MAX_RECIPIENTS + 1)}, "at most 1000 recipients", id="too-many"
        ),
        pytest.param({**EMAIL, "to": ["a@example.com"], "reuse": "yes"}, "'reuse' must be true or false", id="reuse"),
        pytest.param(
            {**EMAIL, "to": ["a@example.com"], "subject": "a\nBcc: x@example.com"}, "CR or LF", id="header-injection"
        ),
        pytest.param({"to": ["a@example.com"], "body": "b"}, "missing field(s): subject", id="missing-subject"),
    ],
)
def test_bad_input_is_a_400_that_says_why_and_sends_nothing(client, mail_server, payload, message):
    response = client.post("/send/bulk", json=payload)
    assert response.status_code == 400
    assert message in response.json["error"]
    assert mail_server.messages == []
    assert client.get("/api/stats").json["bulk"]["accepted"] == 0


def test_one_address_as_a_string_is_a_list_of_one(client, mail_server):
    assert client.post("/send/bulk", json=EMAIL).json["delivered"] == 1

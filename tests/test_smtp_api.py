"""PUT /api/smtp over HTTP: each setting is accepted, shown by GET /api/smtp and felt by an SMTP client; each bad
value is a 400 in JSON that names the setting, and a refused PUT changes nothing."""

import smtplib
import time
from contextlib import ExitStack

import pytest
from helpers import EMAIL, get_json, http_call, http_post


def put_smtp(sandbox, settings):
    """PUT /api/smtp with these settings; the Reply."""
    return http_call("PUT", sandbox, "api/smtp", settings)


def smtp_client(sandbox) -> smtplib.SMTP:
    """A new SMTP connection to the sandbox's mail server, greeted (not logged in)."""
    return smtplib.SMTP(sandbox.mail_server.host, sandbox.mail_server.port, timeout=10)


ACCEPTED = [
    pytest.param({"reply_delay": 0.05}, id="reply_delay"),
    pytest.param({"connect_delay": 0.1}, id="connect_delay"),
    pytest.param({"starttls": True}, id="starttls"),
    pytest.param({"max_connections": 2}, id="max_connections"),
    pytest.param({"seed": 42}, id="seed"),
    pytest.param(
        {"faults": {"RCPT": {"code": 550, "probability": 1.0, "recipients": ["nobody@example.com"]}}}, id="recipients"
    ),
]


@pytest.mark.parametrize("settings", ACCEPTED)
def test_a_valid_setting_is_applied_and_shown(sandbox, settings):
    reply = put_smtp(sandbox, settings)
    assert reply.status == 200, reply.text
    shown = get_json(sandbox, "api/smtp")["settings"]
    assert reply.json["settings"] == shown
    assert {name: shown[name] for name in settings} == settings
    assert sandbox.mail_server.settings.to_dict() == shown  # the mail server itself, not only the reply


def test_reply_delay_slows_every_reply(sandbox):
    delay = 0.05
    put_smtp(sandbox, {"reply_delay": delay})
    started = time.perf_counter()
    with smtp_client(sandbox) as client:  # the greeting, EHLO, NOOP: three replies
        client.ehlo()
        client.noop()
    assert time.perf_counter() - started >= 3 * delay


def test_connect_delay_slows_the_greeting(sandbox):
    delay = 0.2
    put_smtp(sandbox, {"connect_delay": delay})
    started = time.perf_counter()
    with smtp_client(sandbox):
        greeted = time.perf_counter() - started
    assert greeted >= delay


def test_starttls_is_offered_and_required(sandbox):
    assert put_smtp(sandbox, {"starttls": True}).status == 200
    with smtp_client(sandbox) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        code, text = client.mail("a@example.com")
        assert code == 530 and b"STARTTLS" in text  # no mail before TLS
    assert put_smtp(sandbox, {"starttls": False}).status == 200
    with smtp_client(sandbox) as client:
        client.ehlo()
        assert not client.has_extn("starttls")


def test_max_connections_refuses_the_next_with_421(sandbox):
    assert put_smtp(sandbox, {"max_connections": 2}).status == 200
    with ExitStack() as open_clients:
        for _ in range(2):
            open_clients.enter_context(smtp_client(sandbox))
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtp_client(sandbox)
        assert refused.value.smtp_code == 421
    with smtp_client(sandbox) as client:  # the two closed: room again
        assert client.noop()[0] == 250


def test_a_recipients_fault_refuses_only_those_addresses(sandbox):
    fault = {"code": 550, "message": "No such user", "recipients": ["Nobody@example.com"]}
    assert put_smtp(sandbox, {"faults": {"RCPT": fault}}).status == 200
    refused = http_post(sandbox, "send/blocking", {**EMAIL, "to": "nobody@example.com"})  # any case
    assert refused.status == 502
    assert refused.json["error"] == "mail server refused the message: recipient refused: 550 No such user"
    assert http_post(sandbox, "send/blocking", {**EMAIL, "to": "somebody@example.com"}).status == 200
    assert [message.rcpt_tos for message in sandbox.mail_server.messages] == [("somebody@example.com",)]


def test_a_seed_makes_the_faults_reproducible(sandbox):
    def outcomes() -> list[int]:
        # Setting the seed again restarts the draws: the same sends meet the same faults.
        settings = {"seed": 7, "faults": {"DATA": {"code": 451, "probability": 0.5}}}
        assert put_smtp(sandbox, settings).status == 200
        return [http_post(sandbox, "send/blocking", EMAIL).status for _ in range(12)]

    first = outcomes()
    assert set(first) == {200, 502}
    assert outcomes() == first


REFUSED = [
    pytest.param({"reply_delay": -1}, "'reply_delay' must be between 0 and 10", id="reply_delay-negative"),
    pytest.param({"reply_delay": 11}, "'reply_delay' must be between 0 and 10", id="reply_delay-too-long"),
    pytest.param({"reply_delay": "slow"}, "'reply_delay' must be a number", id="reply_delay-text"),
    pytest.param({"connect_delay": -0.5}, "'connect_delay' must be between", id="connect_delay-negative"),
    pytest.param({"connect_delay": True}, "'connect_delay' must be a number", id="connect_delay-bool"),
    pytest.param({"starttls": "yes"}, "'starttls' must be true or false", id="starttls-text"),
    pytest.param({"starttls": 1}, "'starttls' must be true or false", id="starttls-number"),
    pytest.param({"max_connections": 0}, "'max_connections' must be a positive", id="max_connections-zero"),
    pytest.param({"max_connections": 2.5}, "'max_connections' must be a positive", id="max_connections-fraction"),
    pytest.param({"seed": "abc"}, "'seed' must be a whole number", id="seed-text"),
    pytest.param({"seed": 1.5}, "'seed' must be a whole number", id="seed-fraction"),
    pytest.param(
        {"faults": {"RCPT": {"code": 550, "recipients": "a@example.com"}}},
        "'faults.RCPT.recipients' must be a list of addresses",
        id="recipients-not-a-list",
    ),
    pytest.param(
        {"faults": {"RCPT": {"code": 550, "recipients": [""]}}},
        "'faults.RCPT.recipients' must be a list of addresses",
        id="recipients-empty-address",
    ),
    pytest.param(
        {"faults": {"DATA": {"code": 451, "recipients": ["a@example.com"]}}},
        "'faults.DATA.recipients' applies to RCPT faults only",
        id="recipients-outside-rcpt",
    ),
    # One bad value refuses the whole PUT: the good one beside it is not applied either.
    pytest.param({"delay": 0.3, "seed": "abc"}, "'seed' must be a whole number", id="good-and-bad-together"),
]


@pytest.mark.parametrize(("settings", "error"), REFUSED)
def test_a_bad_value_is_a_400_naming_it_and_changes_nothing(sandbox, settings, error):
    # Away from the defaults first, so that a PUT that reset anything would show.
    put_smtp(sandbox, {"reply_delay": 0.01, "max_connections": 5, "seed": 3})
    before = get_json(sandbox, "api/smtp")["settings"]
    reply = put_smtp(sandbox, settings)
    assert reply.status == 400
    assert reply.header("Content-Type") == "application/json"
    assert set(reply.json) == {"error"}
    assert reply.json["error"].startswith(error), reply.json["error"]
    assert get_json(sandbox, "api/smtp")["settings"] == before

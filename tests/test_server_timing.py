"""Server-Timing on every /send/* response: smtp (the wait for the mail server) and app (the rest)."""

import re
from statistics import median

import pytest
from helpers import EMAIL

from sandbox_app.web.compose import MAX_BODY_BYTES

# `smtp;dur=302.412;desc="...", app;dur=0.043;desc="..."`
HEADER = re.compile(r'^smtp;dur=(\d+\.\d{3});desc="[^"]+", app;dur=(\d+\.\d{3});desc="[^"]+"$')


def server_timing(response):
    """{'smtp': ms, 'app': ms} from the response's Server-Timing header (which must be well formed)."""
    header = response.headers.get("Server-Timing")
    assert header is not None, f"no Server-Timing on {response.status_code} {response.request.path}"
    match = HEADER.match(header)
    assert match, f"malformed Server-Timing: {header!r}"
    return {"smtp": float(match.group(1)), "app": float(match.group(2))}


def test_blocking_spends_its_time_on_smtp(client, mail_server):
    assert client.post("/send/blocking", json=EMAIL).status_code == 200  # warm: a first send pays for imports
    mail_server.configure(delay=0.2)
    timings = []
    for _ in range(3):
        response = client.post("/send/blocking", json=EMAIL)
        assert response.status_code == 200
        timings.append(server_timing(response))
    assert all(t["smtp"] >= 200 for t in timings)  # the mail server's delay, inside every request
    # The rest of the request is a small part of it (medians: one stall of a busy machine is not the app).
    assert median(t["app"] for t in timings) < median(t["smtp"] for t in timings) / 10


def test_background_pattern_reports_no_smtp_time(client, mail_server):
    mail_server.configure(delay=0.2)
    response = client.post("/send/threaded", json=EMAIL)
    assert response.status_code == 202
    # The send happens in another thread, with no request: nothing of it lands in this response.
    assert server_timing(response)["smtp"] == 0.0
    mail_server.wait_for(1, timeout=5)  # and the mail still arrives


def test_failed_send_reports_the_time_spent_before_the_refusal(client, mail_server):
    mail_server.configure(delay=0.1, faults={"DATA": {"code": 550, "message": "No"}})
    response = client.post("/send/blocking", json=EMAIL)
    assert response.status_code == 502
    assert server_timing(response)["smtp"] >= 100


@pytest.mark.parametrize(
    ("method", "path", "payload", "status"),
    [
        pytest.param("POST", "/send/blocking", {**EMAIL, "to": "not an address"}, 400, id="400-bad-address"),
        pytest.param("POST", "/send/carrier-pigeon", EMAIL, 404, id="404-unknown-pattern"),
        pytest.param("GET", "/send/blocking", None, 405, id="405-wrong-method"),
        pytest.param("POST", "/send/blocking", {**EMAIL, "body": "x" * (3 * MAX_BODY_BYTES)}, 413, id="413-too-large"),
        pytest.param("GET", "/ping", None, 200, id="ping-the-baseline"),
    ],
)
def test_every_send_response_carries_it(client, mail_server, method, path, payload, status):
    response = client.open(path, method=method, json=payload)
    assert response.status_code == status
    assert server_timing(response)["smtp"] == 0.0
    assert mail_server.messages == []


def test_mail_server_down_is_timed_too(client, mail_server):
    mail_server.stop()
    response = client.post("/send/blocking", json=EMAIL)
    assert response.status_code == 503
    server_timing(response)


@pytest.mark.parametrize("path", ["/", "/inbox", "/api/stats", "/api/messages"])
def test_other_routes_do_not_carry_it(client, path):
    assert "Server-Timing" not in client.get(path).headers

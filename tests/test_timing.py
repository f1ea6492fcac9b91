"""Timing claims, checked as ratios measured in one run on one sandbox (never absolute limits)."""

import json
import urllib.request

from conftest import EMAIL, eventually
from sandbox_app.lab import measure, measure_send
from sandbox_app.lab.timing import timed_request

DELAY = 0.2


def test_blocking_waits_for_the_mail_server_and_threaded_does_not(sandbox):
    sandbox.mail_server.configure(delay=DELAY)
    ping = measure(sandbox, "ping", 10)
    threaded = measure_send(sandbox, "threaded", 10)
    blocking = measure_send(sandbox, "blocking", 5, warmup=1)

    assert blocking.statuses == {200: 5} and threaded.statuses == {202: 10}
    # A blocking response cannot come back before the server has waited DELAY for the message.
    assert blocking.min_ms >= DELAY * 1000
    # The same run, the same server: threaded is far closer to doing nothing than to blocking.
    assert blocking.p50_ms / threaded.p50_ms >= 10
    assert threaded.p50_ms - ping.p50_ms < (blocking.p50_ms - ping.p50_ms) / 10


def test_blocking_response_time_follows_the_delay(sandbox):
    medians = {}
    for delay in (0.05, 0.25):
        sandbox.mail_server.configure(delay=delay)
        medians[delay] = measure_send(sandbox, "blocking", 3, warmup=0).p50_ms
    assert medians[0.25] - medians[0.05] >= 0.2 * 1000 * 0.9


def test_threaded_answers_before_delivery_and_still_delivers(sandbox):
    sandbox.mail_server.configure(delay=0.5)
    sample = timed_request(sandbox.url + "send/threaded", "POST", EMAIL)
    assert sample.status == 202
    assert sandbox.mail_server.messages == []  # the response beat the mail server
    (message,) = sandbox.mail_server.wait_for(1, timeout=5)
    assert message.received_at > sample.started_at + sample.seconds
    # Captured is not yet delivered from the sender's side: its thread still reads the 250 reply.
    eventually(lambda: json.load(urllib.request.urlopen(sandbox.url + "api/stats"))["threaded"]["delivered"] == 1)

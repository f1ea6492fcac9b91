"""Timing claims, checked as ratios measured in one run on one sandbox (never absolute limits)."""

from statistics import median

from helpers import EMAIL, eventually, get_json, timed

from sandbox_app.lab import measure, measure_send

DELAY = 0.2


def test_blocking_waits_for_the_mail_server_and_threaded_does_not(sandbox):
    sandbox.mail_server.configure(delay=DELAY)
    ping = measure(sandbox, "ping", 10)
    threaded = measure_send(sandbox, "threaded", 10)
    blocking = measure_send(sandbox, "blocking", 5, warmup=1)

    assert blocking.statuses == {200: 5} and threaded.statuses == {202: 10}
    # A blocking response cannot come back before the server has waited DELAY for the message.
    assert blocking.min_ms >= DELAY * 1000
    # The same run, the same server: above what /ping costs, threaded adds a tenth of blocking's wait at most.
    assert threaded.p50_ms - ping.p50_ms < (blocking.p50_ms - ping.p50_ms) / 10


def test_blocking_response_time_follows_the_delay(sandbox):
    short, long = 0.05, 0.35
    measure_send(sandbox, "blocking", 1, warmup=0)  # a cold first send would count against one delay only
    pairs = []
    for _ in range(5):  # the two delays in turn, so that a busy moment of the machine hits both alike
        times = {}
        for delay in (short, long):
            sandbox.mail_server.configure(delay=delay)
            sample = timed(sandbox, "send/blocking", "POST", EMAIL)
            assert sample.status == 200
            assert sample.seconds >= delay  # no response comes back before the mail server's wait
            times[delay] = sample.seconds
        pairs.append(times[long] - times[short])
    # The extra delay reached the user in full: the median extra response time is (nearly) all of it.
    assert median(pairs) >= 0.9 * (long - short)


def test_threaded_answers_before_delivery_and_still_delivers(sandbox):
    with sandbox.mail_server.holding():
        sample = timed(sandbox, "send/threaded", "POST", EMAIL)
        assert sample.status == 202
        assert sandbox.mail_server.messages == []  # the response came while the mail server held the mail
    (message,) = sandbox.mail_server.wait_for(1, timeout=5)
    assert message.received_at > sample.started_at + sample.seconds
    # Captured is not yet delivered from the sender's side: its thread still reads the 250 reply.
    eventually(lambda: get_json(sandbox, "api/stats")["threaded"]["delivered"] == 1)

"""Flask's gevent recipe (POST /send/gevent): it sends under gunicorn's gevent worker, and says 409 elsewhere."""

import json

import pytest

from sandbox_app.lab import measure_send, post


@pytest.mark.parametrize("server", ["inprocess", "waitress"])
def test_where_no_greenlet_would_run_the_recipe_is_refused_with_a_reason(start_sandbox, server):
    sandbox = start_sandbox(server=server, smtp_delay=0.0)
    reply = post(sandbox, "send/gevent")
    assert reply.status == 409, reply.body
    assert "gunicorn-gevent" in json.loads(reply.body)["error"]
    assert sandbox.stats.snapshot()["gevent"]["accepted"] == 0 and sandbox.mail_server.total == 0


@pytest.mark.slow  # gunicorn's master and its gevent worker
def test_under_gunicorn_s_gevent_worker_the_greenlet_answers_at_once_and_delivers(start_sandbox):
    sandbox = start_sandbox(server="gunicorn-gevent", smtp_delay=0.2)
    spawned = measure_send(sandbox, "gevent", 10, warmup=0)
    blocking = measure_send(sandbox, "blocking", 3, warmup=0)
    assert spawned.statuses == {202: 10} and blocking.statuses == {200: 3}
    assert spawned.p50_ms < blocking.p50_ms / 4  # the response did not wait for the mail server
    sandbox.mail_server.wait_for(13, timeout=10)  # every spawned greenlet sent its mail
    counted = sandbox.stats.snapshot()["gevent"]
    assert (counted["accepted"], counted["delivered"], counted["failed"]) == (10, 10, 0)

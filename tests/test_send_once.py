"""Lesson 17's guards on a real Redis: the plain guard lets two runs at once both send; the claim lets one, and expires."""

import secrets

import pytest
import redis
from helpers import eventually

from sandbox_app.queues.delivery import (
    CLAIM_SECONDS,
    RETRY_DELAYS,
    ClaimingGuard,
    RedisGuard,
    SendInProgress,
    is_temporary,
)

MESSAGE_ID = "<1.2.3@sandbox.example>"


@pytest.fixture
def keys(redis_url):
    """(a client of the session's Redis, a key prefix of this test's own); its keys are deleted after the test."""
    prefix = f"send-once-{secrets.token_hex(4)}:"
    with redis.Redis.from_url(redis_url) as client:
        yield client, prefix
        made = client.keys(f"{prefix}*")
        if made:
            client.delete(*made)


def claiming(keys, **options) -> ClaimingGuard:
    """A ClaimingGuard keeping its marks and claims under the test's prefix, as one worker's run has it."""
    client, prefix = keys
    return ClaimingGuard(client, prefix=f"{prefix}sent:", claims=f"{prefix}claim:", **options)


def test_two_runs_at_once_both_pass_the_plain_guard(keys):
    client, prefix = keys
    first, second = RedisGuard(client, prefix), RedisGuard(client, prefix)
    assert not first.already_sent(MESSAGE_ID) and not second.already_sent(MESSAGE_ID)  # both send: the gap


def test_of_two_runs_at_once_only_the_one_with_the_claim_sends(keys):
    first, second = claiming(keys), claiming(keys)
    assert not first.already_sent(MESSAGE_ID)  # it holds the claim: it sends
    with pytest.raises(SendInProgress) as refused:
        second.already_sent(MESSAGE_ID)
    assert is_temporary(refused.value)  # so its queue tries it again later
    first.mark(MESSAGE_ID)
    assert second.already_sent(MESSAGE_ID)  # the retry finds the mark and skips the mail


def test_the_claim_of_a_run_that_died_expires_and_a_retry_then_sends(keys):
    client, prefix = keys
    dead, retry = claiming(keys, claim_seconds=1), claiming(keys, claim_seconds=1)
    assert not dead.already_sent(MESSAGE_ID)  # claimed, then the run dies: no mark
    assert 0 < client.ttl(f"{prefix}claim:{MESSAGE_ID}") <= 1
    with pytest.raises(SendInProgress):
        retry.already_sent(MESSAGE_ID)
    eventually(lambda: not client.exists(f"{prefix}claim:{MESSAGE_ID}"), timeout=5)  # Redis let it expire
    assert not retry.already_sent(MESSAGE_ID)  # this run claims it now, and sends


def test_the_claim_expires_before_the_last_retry_comes():
    # A dead run's claim refuses the retries that come before it expires: the last one must come after.
    assert sum(RETRY_DELAYS) > CLAIM_SECONDS

"""Failures nobody hears of: the threaded pattern against the pool, and a temporary error the queue retries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ...waiting import wait_until
from ..faults import REFUSE_EVERY_RECIPIENT, TRY_AGAIN_LATER, mail_server_settings, thread_exceptions
from ..sandbox import reset, running_sandbox, settle
from ..timing import measure_send


@dataclass
class UnseenFailures:
    """The threaded pattern vs the pool, sending to a server that refuses every recipient."""

    sends: int
    thread_replies: Counter  # the HTTP statuses the threaded pattern's clients got
    thread_exceptions: list[str]  # the last line of each traceback Python printed to stderr
    thread_stats: dict  # the sandbox's own counters for the threaded pattern
    pool_replies: Counter
    pool_exceptions: list[str]  # what the pool's threads printed to stderr
    pool_stats: dict

    def report(self) -> str:
        """The counts as sentences (deterministic: no timings in them)."""
        kinds = ", ".join(Counter(line.split(":")[0] for line in self.thread_exceptions))
        return "\n".join([
            f"threaded: {replies(self.thread_replies)}",
            f"          {len(self.thread_exceptions)} tracebacks on stderr ({kinds})",
            f"          stderr said: {self.thread_exceptions[0] if self.thread_exceptions else '(nothing)'}",
            f"          the sandbox's counters: failed {self.thread_stats['failed']}, "
            f"delivered {self.thread_stats['delivered']}",
            f"pool:     {replies(self.pool_replies)}",
            f"          {len(self.pool_exceptions)} tracebacks on stderr",
            f"          the sandbox's counters: failed {self.pool_stats['failed']}, "
            f"delivered {self.pool_stats['delivered']}",
            f"          last_error: {self.pool_stats['last_error']}",
        ])  # fmt: skip


def replies(statuses: Counter) -> str:
    """HTTP statuses as "20 x HTTP 202"."""
    return ", ".join(f"{count} x HTTP {status}" for status, count in statuses.items())


def unseen_failures(sandbox, sends: int = 20, faults: dict = REFUSE_EVERY_RECIPIENT) -> UnseenFailures:
    """(a) With the mail server answering with `faults`, both answer at once; the failures reach only stderr and
    the sandbox's own counters (the seam beneath Flask-Mail), never the client."""
    sandbox = running_sandbox(sandbox)
    reset(sandbox, settle=())
    with mail_server_settings(sandbox, delay=0.0, faults=faults), thread_exceptions() as caught:
        threaded = measure_send(sandbox, "threaded", sends, warmup=0)
        # Each failed thread reports just before it ends.
        wait_until(lambda: len(caught) >= sends, 10, "the threaded pattern's threads")
        thread_stats = settle(sandbox, "threaded", sends, timeout=10)
        thread_exceptions_seen = [last_line(c.exc_value) for c in caught]
        caught.clear()
        pooled = measure_send(sandbox, "pool", sends, warmup=0)
        pool_stats = settle(sandbox, "pool", sends, timeout=10)
        pool_exceptions = [last_line(c.exc_value) for c in caught]
    return UnseenFailures(
        sends, threaded.statuses, thread_exceptions_seen, thread_stats, pooled.statuses, pool_exceptions, pool_stats
    )


def last_line(error: BaseException) -> str:
    """The last line of the traceback Python prints for `error`."""
    return f"{type(error).__module__}.{type(error).__name__}: {error}"


# -- a temporary failure: the queue tries again -------------------------------------------


def temporary_failure(sandbox, sends: int = 5, faults: dict = TRY_AGAIN_LATER) -> dict:
    """The server answers every message with `faults` (a 4xx: "try again later"), then recovers: pool vs queue.

    Returns the pool's and the queue's counters once the queue's retries have gone through, the queue's
    first retry delay (`retry_delay`, s) and when each queued mail arrived, in s after it was sent (`arrived_after`).
    """
    sandbox = running_sandbox(sandbox)
    reset(sandbox, settle=())
    sandbox.start_consumer()
    with mail_server_settings(sandbox, delay=0.0, faults=faults):
        measure_send(sandbox, "pool", sends, warmup=0)
        queued = measure_send(sandbox, "queue", sends, warmup=0)
        # Every first attempt has failed: the pool's for good, the queue's are scheduled again.
        wait_until(lambda: sandbox.stats.snapshot()["pool"]["failed"] == sends, 10, "the pool's failures")
        wait_until(lambda: sandbox.stats.snapshot()["queue"]["retried"] == sends, 10, "the queue's retries")
    # The server has recovered (the fault is gone): the retries now go through.
    wait_until(lambda: sandbox.stats.snapshot()["queue"]["delivered"] == sends, 15, "the queue's deliveries")
    counters = sandbox.stats.snapshot()
    sent_at = sorted(s.started_at for s in queued.samples)
    arrived_at = sorted(m.received_at for m in sandbox.mail_server.messages)  # only the queue's got through
    return {
        "pool": counters["pool"],
        "queue": counters["queue"],
        "retry_delay": sandbox.queue.retry_delay,
        # Paired in order: the n-th mail sent is, at the earliest, the n-th to arrive.
        "arrived_after": [round(arrived - sent, 2) for sent, arrived in zip(sent_at, arrived_at, strict=False)],
    }

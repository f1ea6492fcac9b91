"""Failures nobody hears of: the page's thread against the pool, and a temporary error the queue retries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from flask_mail import Message

from ...examples import DEFAULT_EMAIL
from ...patterns import page_example
from ...waiting import wait_until
from ..faults import REFUSE_EVERY_RECIPIENT, TRY_AGAIN_LATER, mail_server_settings, thread_exceptions
from ..sandbox import reset, running_sandbox, settle
from ..timing import measure_send


@dataclass
class UnseenFailures:
    """The page's thread vs the pool, sending to a server that refuses every recipient."""

    sends: int
    page_replies: Counter
    page_exceptions: list[str]  # the last line of each traceback Python printed to stderr
    page_counted: int  # failures any counter of the app recorded for the page's sends
    pool_replies: Counter
    pool_stats: dict

    def report(self) -> str:
        """The counts as sentences (deterministic: no timings in them)."""
        replies = ", ".join(f"{count} x {reply!r}" for reply, count in self.page_replies.items())
        kinds = ", ".join(Counter(line.split(":")[0] for line in self.page_exceptions))
        statuses = ", ".join(f"{count} x HTTP {status}" for status, count in self.pool_replies.items())
        return "\n".join([
            f"page's thread: {replies}",
            f"               {len(self.page_exceptions)} tracebacks on stderr ({kinds}), "
            f"counted by the app: {self.page_counted}",
            f"               stderr said: {self.page_exceptions[0] if self.page_exceptions else '(nothing)'}",
            f"pool:          {statuses}",
            f"               /api/stats: failed {self.pool_stats['failed']}, delivered {self.pool_stats['delivered']}",
            f"               last_error: {self.pool_stats['last_error']}",
        ])  # fmt: skip


def unseen_failures(sandbox, sends: int = 20, faults: dict = REFUSE_EVERY_RECIPIENT) -> UnseenFailures:
    """(a) With the mail server answering with `faults`, both answer at once; only the pool counts its failures."""
    sandbox = running_sandbox(sandbox)
    app = sandbox.app
    reset(sandbox, settle=())
    with mail_server_settings(sandbox, delay=0.0, faults=faults):
        with app.test_request_context(), thread_exceptions() as caught:
            messages = [example_message() for _ in range(sends)]
            page_replies = Counter(page_example.send_email(app, msg) for msg in messages)
            # Each failed thread reports just before it ends.
            wait_until(lambda: len(caught) >= sends, 10, "the page's threads")
        page_exceptions = [
            f"{type(c.exc_value).__module__}.{type(c.exc_value).__name__}: {c.exc_value}" for c in caught
        ]
        page_counted = sum(row["failed"] + row["delivered"] for row in sandbox.stats.snapshot().values())
        samples = measure_send(sandbox, "pool", sends, warmup=0)
        pool_stats = settle(sandbox, "pool", sends, timeout=10)
    return UnseenFailures(sends, page_replies, page_exceptions, page_counted, samples.statuses, pool_stats)


def example_message() -> Message:
    """One message like the app sends (call inside an app or request context)."""
    return Message(DEFAULT_EMAIL["subject"], recipients=[DEFAULT_EMAIL["to"]], body=DEFAULT_EMAIL["body"])


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

"""The failure lessons as experiments: each runs on the sandbox, restores it, and returns what it counted."""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass

from flask_mail import Message

from ..patterns import page_example
from ..waiting import wait_until
from .plots import COLORS, new_figure
from .sandbox import running_sandbox, settle, stats_of
from .tables import Table, rows_table
from .timing import DEFAULT_EMAIL, measure_send, timed_request
from .webprocess import WebProcess

BURST_PATTERNS = ("threaded", "pool", "queue")


@contextmanager
def mail_server_settings(sandbox, **changes):
    """Change the mail server's settings for a block, then put the old ones back (re-run safe)."""
    server = sandbox.mail_server
    saved = server.settings.to_dict()
    server.configure(**changes)
    try:
        yield server
    finally:
        server.configure(**saved)


def fresh_counts(sandbox) -> None:
    """Empty the inbox and zero the stats and the mail server's counters."""
    sandbox.mail_server.clear()
    sandbox.mail_server.reset_counters()
    stats_of(sandbox).reset()


def stats(sandbox) -> dict:
    """What /api/stats answers, read in-process."""
    return stats_of(sandbox).snapshot()


# -- (a) an exception in a background sender ---------------------------------------------


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


@contextmanager
def thread_exceptions():
    """Collect what threading.excepthook would print to stderr, instead of printing it."""
    caught: list[threading.ExceptHookArgs] = []
    previous = threading.excepthook
    threading.excepthook = caught.append
    try:
        yield caught
    finally:
        threading.excepthook = previous


def unseen_failures(sandbox, sends: int = 20) -> UnseenFailures:
    """(a) Both answer at once; only the pool's failures are counted (the page's go to stderr)."""
    sandbox = running_sandbox(sandbox)
    app = sandbox.app
    fresh_counts(sandbox)
    refuse = {"RCPT": {"code": 550, "message": "5.1.1 No such user here"}}
    with mail_server_settings(sandbox, delay=0.0, faults=refuse):
        with app.test_request_context(), thread_exceptions() as caught:
            messages = [bench_message() for _ in range(sends)]
            page_replies = Counter(page_example.send_email(app, msg) for msg in messages)
            # Each failed thread reports just before it ends.
            wait_until(lambda: len(caught) >= sends, 10, "the page's threads")
        page_exceptions = [f"{type(c.exc_value).__module__}.{type(c.exc_value).__name__}: {c.exc_value}" for c in caught]
        page_counted = sum(row["failed"] + row["delivered"] for row in stats(sandbox).values())
        samples = measure_send(sandbox, "pool", sends, warmup=0)
        pool_stats = settle(sandbox, "pool", sends, timeout=10)
    return UnseenFailures(sends, page_replies, page_exceptions, page_counted, samples.statuses, pool_stats)


def bench_message() -> Message:
    """One message like the app sends (call inside an app or request context)."""
    return Message(DEFAULT_EMAIL["subject"], recipients=[DEFAULT_EMAIL["to"]], body=DEFAULT_EMAIL["body"])


# -- a temporary failure: the queue tries again -------------------------------------------


def temporary_failure(sandbox, sends: int = 5) -> dict:
    """The server answers 451 ("try again later") to every message, then recovers: pool vs queue.

    Returns the pool's and the queue's counters once the queue's retries have gone through.
    """
    sandbox = running_sandbox(sandbox)
    fresh_counts(sandbox)
    sandbox.start_consumer()
    later = {"DATA": {"code": 451, "message": "4.3.0 Try again later"}}
    with mail_server_settings(sandbox, delay=0.0, faults=later):
        for pattern in ("pool", "queue"):
            measure_send(sandbox, pattern, sends, warmup=0)
        # Every first attempt has failed: the pool's for good, the queue's are scheduled again.
        wait_until(lambda: stats(sandbox)["pool"]["failed"] == sends, 10, "the pool's failures")
        wait_until(lambda: stats(sandbox)["queue"]["retried"] == sends, 10, "the queue's retries")
    # The server has recovered (the fault is gone): the retries now go through.
    wait_until(lambda: stats(sandbox)["queue"]["delivered"] == sends, 15, "the queue's deliveries")
    counters = stats(sandbox)
    return {"pool": counters["pool"], "queue": counters["queue"]}


# -- (b) the web process dies in the middle of a burst -------------------------------------


@dataclass
class CrashResult:
    """Per pattern: mails the web process accepted (202) before it died, and mails that arrived."""

    accepted: Counter
    delivered: Counter
    refused_after_kill: int
    seconds_to_drain: float

    def lost(self, pattern: str) -> int:
        """Accepted with a 202, never delivered."""
        return max(0, self.accepted[pattern] - self.delivered[pattern])

    def table(self) -> Table:
        """accepted / delivered / lost per pattern."""
        rows = [[p, self.accepted[p], self.delivered[p], self.lost(p)] for p in self.accepted]
        return Table(["pattern", "accepted", "delivered", "lost"], rows)


def tagged(pattern: str, number: int) -> dict:
    """The email for request `number` of a pattern: the subject says which, so the inbox can be counted."""
    return {**DEFAULT_EMAIL, "subject": f"crash test {pattern} #{number}"}


def delivered_by_pattern(sandbox, patterns) -> Counter:
    """Captured messages per pattern, by their subject."""
    subjects = Counter(m.subject.split(" #")[0].removeprefix("crash test ") for m in sandbox.mail_server.messages)
    return Counter({pattern: subjects[pattern] for pattern in patterns})


def crash_burst(
    sandbox,
    per_pattern: int = 40,
    patterns=BURST_PATTERNS,
    kill_after: float = 0.5,
    concurrency: int = 6,
    delay: float = 0.2,
) -> CrashResult:
    """(b) A separate web process takes a burst and is SIGKILLed part-way; then the consumer comes back.

    The web process sends to this sandbox's mail server and queues into this sandbox's queue.
    The consumer is stopped first, as if it went down with the web process: queued mail only waits.
    """
    sandbox = running_sandbox(sandbox)
    fresh_counts(sandbox)
    mail_queue = sandbox.queue
    sandbox.stop_consumer()
    jobs = iter([(pattern, number) for number in range(per_pattern) for pattern in patterns])  # interleaved
    kill_at = int(per_pattern * len(patterns) * kill_after)
    accepted: Counter = Counter({pattern: 0 for pattern in patterns})
    refused = 0
    lock = threading.Lock()
    args = ["--smtp-server", sandbox.smtp_address, "--queue-name", mail_queue.name, "--queue-workers", "0"]
    if mail_queue.url:
        args += ["--queue-url", mail_queue.url]
    with mail_server_settings(sandbox, delay=delay), WebProcess(*args) as web:

        def client() -> None:
            nonlocal refused
            while True:
                with lock:
                    job = next(jobs, None)
                if job is None:
                    return
                pattern, number = job
                try:
                    sample = timed_request(f"{web.url}send/{pattern}", "POST", tagged(pattern, number), timeout=10)
                except (OSError, http.client.HTTPException):
                    with lock:
                        refused += 1  # the process is gone: this request was never accepted
                    continue
                with lock:
                    if sample.status == 202:
                        accepted[pattern] += 1
                    if sum(accepted.values()) >= kill_at and web.running:
                        web.kill()  # in the middle of the burst: no clean stop, no drain

        clients = [threading.Thread(target=client, name=f"burst-client-{i}") for i in range(concurrency)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        web.kill()
        started = time.monotonic()
        sandbox.start_consumer()  # back up: it finds the queued mail in SQLite (or Redis)
        try:
            wait_until(lambda: delivered_by_pattern(sandbox, ["queue"])["queue"] >= accepted["queue"], 15, "the queue")
        except TimeoutError:
            pass  # what did not arrive is counted as lost below
        drained = time.monotonic() - started
        time.sleep(delay)  # anything else still arriving would be counted too
    return CrashResult(accepted, delivered_by_pattern(sandbox, patterns), refused, drained)


# -- (c) a burst against a mail server that allows 10 connections -----------------------


def limited_burst(
    sandbox,
    patterns=BURST_PATTERNS,
    requests: int = 200,
    concurrency: int = 20,
    max_connections: int = 10,
    delay: float = 0.1,
) -> list[dict]:
    """(c) The same burst with each pattern; the server answers 421 beyond `max_connections`."""
    sandbox = running_sandbox(sandbox)
    rows = []
    if "queue" in patterns:
        sandbox.start_consumer()
    with mail_server_settings(sandbox, delay=delay, max_connections=max_connections):
        for pattern in patterns:
            fresh_counts(sandbox)
            samples = measure_send(sandbox, pattern, requests, warmup=0, concurrency=concurrency)
            # 10 s of slack beyond the slowest drain (8 workers) and the queue's retries.
            counters = settle(sandbox, pattern, requests, timeout=requests * delay + 10)
            rows.append({
                "pattern": pattern,
                "p50_ms": round(samples.p50_ms, 2),
                "p99_ms": round(samples.p99_ms, 2),
                "accepted": samples.statuses.get(202, 0),
                "delivered": counters["delivered"],
                "failed": counters["failed"],
                "retried": counters["retried"],
                "refused_421": sandbox.mail_server.counters()["refused"],
                "peak_connections": sandbox.mail_server.counters()["peak_connections"],
                "lost": requests - counters["delivered"],
                "max_connections": max_connections,
            })  # fmt: skip
    return rows


def format_rows(rows: list[dict], columns: list[str]) -> Table:
    """The burst's rows as a table of the given columns."""
    return rows_table(rows, columns)


def plot_burst(rows: list[dict]):
    """Two panels per pattern: response time (p50, p99), and how many of the mails arrived or were lost."""
    names = [row["pattern"] for row in rows]
    colors = [COLORS.get(name, "#444444") for name in names]
    positions = list(range(len(rows)))
    figure, (times, mail) = new_figure(9, 3.4, ncols=2)
    times.bar([p - 0.2 for p in positions], [row["p50_ms"] for row in rows], 0.4, color=colors, label="p50")
    times.bar([p + 0.2 for p in positions], [row["p99_ms"] for row in rows], 0.4, color=colors, alpha=0.45, label="p99")
    times.set_xticks(positions, names)
    times.set(ylabel="response time (ms)", title="Every request is answered at once...")
    times.legend()
    sent = rows[0]["accepted"]
    delivered = [row["delivered"] for row in rows]
    mail.bar(names, delivered, color="#2ca02c", label="delivered")
    mail.bar(names, [row["lost"] for row in rows], bottom=delivered, color="#d62728", label="lost (421 refused)")
    for position, row in zip(positions, rows):
        mail.text(position, sent * 1.02, f"{row['delivered']} of {sent}", ha="center", va="bottom")
    mail.set_ylim(0, sent * 1.35)
    mail.set(ylabel="mails", title=f"...but with {rows[0]['max_connections']} connections allowed:")
    mail.legend(loc="upper center", ncols=2, frameon=False)
    return figure

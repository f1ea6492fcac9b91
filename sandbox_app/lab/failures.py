"""The failure lessons as experiments: each runs on the sandbox, restores it, and returns what it counted."""

from __future__ import annotations

import asyncio
import email
import http.client
import signal
import threading
import time
from collections import Counter
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from flask_mail import Message

from ..patterns import page_example
from ..queue.consumer import ConsumerProcess
from ..smtp.server import LOOPBACK, free_port
from ..waiting import wait_until
from .plots import COLORS, new_figure
from .sandbox import running_sandbox, settle, stats_of
from .tables import Table, rows_table
from .timing import DEFAULT_EMAIL, key_headers, measure_send, timed_request
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


REFUSE_EVERY_RECIPIENT = {"RCPT": {"code": 550, "message": "5.1.1 No such user here"}}
TRY_AGAIN_LATER = {"DATA": {"code": 451, "message": "4.3.0 Try again later"}}


def unseen_failures(sandbox, sends: int = 20, faults: dict = REFUSE_EVERY_RECIPIENT) -> UnseenFailures:
    """(a) With the mail server answering with `faults`, both answer at once; only the pool counts its failures."""
    sandbox = running_sandbox(sandbox)
    app = sandbox.app
    fresh_counts(sandbox)
    with mail_server_settings(sandbox, delay=0.0, faults=faults):
        with app.test_request_context(), thread_exceptions() as caught:
            messages = [bench_message() for _ in range(sends)]
            page_replies = Counter(page_example.send_email(app, msg) for msg in messages)
            # Each failed thread reports just before it ends.
            wait_until(lambda: len(caught) >= sends, 10, "the page's threads")
        page_exceptions = [
            f"{type(c.exc_value).__module__}.{type(c.exc_value).__name__}: {c.exc_value}" for c in caught
        ]
        page_counted = sum(row["failed"] + row["delivered"] for row in stats(sandbox).values())
        samples = measure_send(sandbox, "pool", sends, warmup=0)
        pool_stats = settle(sandbox, "pool", sends, timeout=10)
    return UnseenFailures(sends, page_replies, page_exceptions, page_counted, samples.statuses, pool_stats)


def bench_message() -> Message:
    """One message like the app sends (call inside an app or request context)."""
    return Message(DEFAULT_EMAIL["subject"], recipients=[DEFAULT_EMAIL["to"]], body=DEFAULT_EMAIL["body"])


# -- a temporary failure: the queue tries again -------------------------------------------


def temporary_failure(sandbox, sends: int = 5, faults: dict = TRY_AGAIN_LATER) -> dict:
    """The server answers every message with `faults` (a 4xx: "try again later"), then recovers: pool vs queue.

    Returns the pool's and the queue's counters once the queue's retries have gone through, the queue's
    first retry delay (`retry_delay`, s) and when each queued mail arrived, in s after it was sent (`arrived_after`).
    """
    sandbox = running_sandbox(sandbox)
    fresh_counts(sandbox)
    sandbox.start_consumer()
    with mail_server_settings(sandbox, delay=0.0, faults=faults):
        measure_send(sandbox, "pool", sends, warmup=0)
        queued = measure_send(sandbox, "queue", sends, warmup=0)
        # Every first attempt has failed: the pool's for good, the queue's are scheduled again.
        wait_until(lambda: stats(sandbox)["pool"]["failed"] == sends, 10, "the pool's failures")
        wait_until(lambda: stats(sandbox)["queue"]["retried"] == sends, 10, "the queue's retries")
    # The server has recovered (the fault is gone): the retries now go through.
    wait_until(lambda: stats(sandbox)["queue"]["delivered"] == sends, 15, "the queue's deliveries")
    counters = stats(sandbox)
    sent_at = sorted(s.started_at for s in queued.samples)
    arrived_at = sorted(m.received_at for m in sandbox.mail_server.messages)  # only the queue's got through
    return {
        "pool": counters["pool"],
        "queue": counters["queue"],
        "retry_delay": sandbox.queue.retry_delay,
        # Paired in order: the n-th mail sent is, at the earliest, the n-th to arrive.
        "arrived_after": [round(arrived - sent, 2) for sent, arrived in zip(sent_at, arrived_at, strict=False)],
    }


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
    # The web process has the same key as this sandbox, and logs in to its mail server with it.
    secrets = (
        {"SANDBOX_KEY": sandbox.key, "SANDBOX_SMTP_PASSWORD": sandbox.key} if sandbox.key else {"SANDBOX_OPEN": "1"}
    )
    with mail_server_settings(sandbox, delay=delay), WebProcess(*args, env=secrets) as web:

        def client() -> None:
            nonlocal refused
            while True:
                with lock:
                    job = next(jobs, None)
                if job is None:
                    return
                pattern, number = job
                try:
                    sample = timed_request(
                        f"{web.url}send/{pattern}", "POST", tagged(pattern, number), timeout=10,
                        headers=key_headers(sandbox),
                    )  # fmt: skip
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
        with suppress(TimeoutError):  # what did not arrive is counted as lost below
            wait_until(lambda: delivered_by_pattern(sandbox, ["queue"])["queue"] >= accepted["queue"], 15, "the queue")
        drained = time.monotonic() - started
        time.sleep(delay)  # anything else still arriving would be counted too
    return CrashResult(accepted, delivered_by_pattern(sandbox, patterns), refused, drained)


# -- the queue's consumer stops: gracefully, at once, or killed -----------------------------

CONSUMER_STOPS = {
    "SIGINT": "graceful: the sends under way finish",
    "SIGTERM": "immediate: the sends under way are cut off and put back",
    "SIGKILL": "killed: nothing of the consumer runs after",
}


def consumer_stops(
    sandbox, sends: int = 12, workers: int = 4, connect_delay: float = 0.3, signals=tuple(CONSUMER_STOPS)
) -> list[dict]:
    """Per signal: a consumer with `workers` threads is stopped while each thread is in the middle of a send.

    The mail server waits `connect_delay` before greeting, so every worker is caught in the middle of a send;
    then the consumer comes back (no delay now) and sends what the queue still holds. Counted at the mail server.
    """
    sandbox = running_sandbox(sandbox)
    rows = []
    server, mail_queue = sandbox.mail_server, sandbox.queue
    sandbox.stop_consumer()
    for name in signals:
        # The last round's cut-off connections close once their greeting is due.
        wait_until(lambda: server.counters()["open_connections"] == 0, 10, "the mail server's connections")
        fresh_counts(sandbox)
        with mail_server_settings(sandbox, connect_delay=connect_delay):
            consumer = sandbox.start_consumer(workers=workers)
            accepted = measure_send(sandbox, "queue", sends, warmup=0).statuses.get(202, 0)
            wait_until(lambda: server.counters()["open_connections"] >= workers, 10, "the consumer's sends")
            in_flight = server.counters()["open_connections"]
            consumer.process.send_signal(getattr(signal, name))
            consumer.process.wait(15)
            delivered_before = len(server.messages)
        sandbox.stop_consumer()  # gone already: this only forgets it
        left = mail_queue.waiting()  # what the queue still holds is all a new consumer can send
        sandbox.start_consumer(workers=workers)
        expected = delivered_before + left
        with suppress(TimeoutError):  # what never arrives is counted as lost below
            wait_until(lambda: len(server.messages) >= expected, 10, "the queue's mail")  # noqa: B023 (waited for here)
        sandbox.stop_consumer()  # graceful: a send still under way finishes, and is counted
        delivered = len(server.messages)
        rows.append({
            "signal": name,
            "what the consumer does": CONSUMER_STOPS[name],
            "in flight": in_flight,
            "delivered before the stop": delivered_before,
            "accepted": accepted,
            "delivered": min(delivered, accepted),
            "lost": max(accepted - delivered, 0),
            "twice": max(delivered - accepted, 0),
        })  # fmt: skip
    sandbox.start_consumer()  # as the lesson had it: the default number of workers
    return rows


# -- a reply that comes too late: the queue sends a mail twice ------------------------------


@dataclass
class SlowToConfirm:
    """aiosmtpd handler: keeps each message at once, then holds back its `250` reply, the first time only.

    A real mail server that has stored a message and is slow to say so (a congested link, a slow disk)
    looks like this to its client: the client's timeout fires, and it counts a temporary failure.
    """

    stall: float
    received: list[tuple[float, str]] = field(default_factory=list)  # (when, Message-ID) of every copy kept

    async def handle_DATA(self, server, session, envelope):
        """Keep the message, then (the first time) wait `stall` s before confirming it."""
        headers = email.message_from_bytes(envelope.original_content or envelope.content)
        self.received.append((time.time(), headers["Message-ID"]))
        if len(self.received) == 1:
            await asyncio.sleep(self.stall)  # cancelled when the client hangs up: the message is kept all the same
        return "250 OK: kept"


@dataclass
class LateReply:
    """One queued mail, sent to a mail server whose first reply comes after the consumer's timeout."""

    timeout: float
    stall: float
    accepted: int
    counters: dict  # the queue's /api/stats: retried, delivered, failed
    received: list[tuple[float, str]]  # (when, Message-ID) of each copy the mail server kept

    @property
    def copies(self) -> int:
        """How many copies of the mail the mail server kept."""
        return len(self.received)

    @property
    def message_ids(self) -> set[str]:
        """The distinct Message-ID headers among the copies."""
        return {message_id for _, message_id in self.received}

    def report(self) -> str:
        """The counts as sentences (deterministic: no timings in them)."""
        ids = len(self.message_ids)
        return "\n".join([
            f"the client (the queue's consumer, MAIL_TIMEOUT {self.timeout:g} s): accepted {self.accepted}, "
            f"retried {self.counters['retried']}, delivered {self.counters['delivered']}, "
            f"failed {self.counters['failed']}",
            f"the mail server (confirms after {self.stall:g} s): kept {self.copies} "
            f"cop{'y' if self.copies == 1 else 'ies'}, with {ids} Message-ID{'' if ids == 1 else 's'}",
        ])  # fmt: skip


def late_reply(sandbox, timeout: float = 0.5, stall: float = 1.0) -> LateReply:
    """One mail through the queue, to a mail server that keeps it but confirms only after the consumer gave up.

    The sandbox's own consumer steps aside for a consumer whose MAIL_TIMEOUT is `timeout` and whose
    mail server holds its first reply for `stall` s; afterwards the sandbox's consumer comes back.
    """
    sandbox = running_sandbox(sandbox)
    fresh_counts(sandbox)
    sandbox.stop_consumer()
    handler = SlowToConfirm(stall)
    server = Controller(handler, hostname=LOOPBACK, port=free_port())
    # The same queue and app as the sandbox's consumer, another mail server, and a short timeout. This
    # server asks for no login, so none is sent.
    login = ("MAIL_USERNAME", "MAIL_PASSWORD")
    config = {key: value for key, value in sandbox.queue.consumer_config().items() if key not in login}
    config |= {"MAIL_SERVER": LOOPBACK, "MAIL_PORT": server.port, "MAIL_TIMEOUT": timeout}
    server.start()
    try:
        with ConsumerProcess(config, workers=1):
            accepted = measure_send(sandbox, "queue", 1, warmup=0).statuses.get(202, 0)
            with suppress(TimeoutError):  # counted as it stands below
                wait_until(lambda: stats(sandbox)["queue"]["delivered"] >= accepted, 15, "the retried mail")
    finally:
        server.stop()
        sandbox.start_consumer()
    return LateReply(timeout, stall, accepted, stats(sandbox)["queue"], list(handler.received))


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
    for position, row in zip(positions, rows, strict=True):
        mail.text(position, sent * 1.02, f"{row['delivered']} of {sent}", ha="center", va="bottom")
    mail.set_ylim(0, sent * 1.35)
    mail.set(ylabel="mails", title=f"...but with {rows[0]['max_connections']} connections allowed:")
    mail.legend(loc="upper center", ncols=2, frameon=False)
    return figure

"""`python -m sandbox_app bench`: every pattern on one sandbox in one run, as the page's comparison table."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext

from ..config import SandboxConfig
from ..examples import DEFAULT_EMAIL
from ..measuring import measure, measure_send, percentile
from ..patterns import ASYNC_PATTERNS, GREENLET_PATTERNS, PATTERNS
from ..queues.registry import BACKENDS, FIRST_QUEUE
from ..sandbox import Sandbox, SandboxNotRunning
from .client import call
from .running import reset, settle
from .signup_bench import SIGNUP_ROWS, new_signups, not_delivered, welcomed
from .smtp_delay import blocks_worker
from .tables import Table
from .workers import only_queue, queues_paused

BULK = "bulk"
# What `--patterns` may name, and what it measures when it names none.
BENCH_CHOICES = (*PATTERNS, *ASYNC_PATTERNS, *GREENLET_PATTERNS, BULK, *SIGNUP_ROWS)
DEFAULT_PATTERNS = (
    *(p for p in PATTERNS if p not in BACKENDS or not BACKENDS[p].needs_redis),
    BULK,
)  # Celery and RQ need a Redis: asked for by name
# Flask's gevent recipe sends only where gunicorn's gevent worker monkey-patched socket (patterns/greenlet.py).
GREENLET_SERVER = "gunicorn-gevent"


def default_patterns(server: str) -> tuple[str, ...]:
    """What the bench measures when `--patterns` names none: the gevent recipe too under gunicorn's gevent worker."""
    return (*DEFAULT_PATTERNS[:-1], *GREENLET_PATTERNS, BULK) if server == GREENLET_SERVER else DEFAULT_PATTERNS


def check_patterns(patterns: list[str], server: str) -> list[str]:
    """The patterns, if each can run under `server`; ValueError saying why not."""
    if server != GREENLET_SERVER and (greenlets := [p for p in patterns if p in GREENLET_PATTERNS]):
        raise ValueError(
            f"{', '.join(greenlets)} needs --server {GREENLET_SERVER}: under {server} no greenlet would run"
        )
    return patterns


# The background patterns the page compares with /ping and blocking in its headline.
HEADLINE_PATTERNS = ("threaded", "pool", FIRST_QUEUE)

SETTLE_TIMEOUT = 30.0
# The bench waits for a queue to drain as long as mail keeps arriving: it gives up after this long without one
# delivery (or three of the mail server's delays, if longer), and counts what is left as still queued, not lost.
QUIET_SECONDS = 5.0
POLL_SECONDS = 0.05


def quiet_seconds(delay: float) -> float:
    """How long without a delivery the bench waits before it stops waiting for the rest."""
    return max(QUIET_SECONDS, 3 * delay)


def drain(progress: Callable[[], tuple[int, int]], quiet: float) -> float:
    """Wait until `progress()`, (mail delivered or failed, mail expected), says all is done, or none was for `quiet` s.

    Returns when it drained (the epoch time its last mail was seen delivered or failed), or when it gave up.
    """
    last_change = time.time()
    done_before = None
    while True:
        done, expected = progress()
        if done != done_before:
            done_before, last_change = done, time.time()
        if done >= expected:
            return last_change
        if time.time() - last_change >= quiet:
            return time.time()
        time.sleep(POLL_SECONDS)


def pattern_progress(sandbox, pattern: str) -> Callable[[], tuple[int, int]]:
    """`drain`'s progress for a pattern: its mail delivered or failed, and accepted, from its counters."""

    def progress() -> tuple[int, int]:
        counters = sandbox.stats.snapshot()[pattern]
        return counters["delivered"] + counters["failed"], counters["accepted"]

    return progress


def still_queued(sandbox, pattern: str) -> int:
    """Mail of `pattern` neither delivered nor failed for good yet: in its queue, or in the app's memory."""
    if pattern in BACKENDS:
        backend = sandbox.backend(pattern)
        # Where the queue holds it: waiting, taken by a worker, or waiting for its retry (three disjoint counts).
        return backend.waiting() + backend.in_flight() + backend.retries_scheduled() if backend.opened() else 0
    counters = sandbox.stats.snapshot()[pattern]  # threads, a pool, a task: the app's own process holds it
    return max(0, counters["accepted"] - counters["delivered"] - counters["failed"])


def bench_pattern(
    sandbox, pattern: str, requests: int, concurrency: int, delay: float, progress: bool, outside: bool | None = None
) -> dict:
    """One row of the table: response percentiles, throughput, and what became of the mail."""
    stats = sandbox.stats
    # Warm this pattern's code path.
    measure_send(sandbox, pattern, concurrency, warmup=0, concurrency=concurrency, outside=outside)
    settle(sandbox, pattern, stats.snapshot()[pattern]["accepted"], SETTLE_TIMEOUT)
    stats.reset()
    samples = measure_send(
        sandbox, pattern, requests, warmup=0, concurrency=concurrency, progress=progress, outside=outside
    )
    answered_at = max(sample.started_at + sample.seconds for sample in samples.samples)
    drained_at = drain(pattern_progress(sandbox, pattern), quiet_seconds(delay))
    queued = still_queued(sandbox, pattern)  # before the counters: a mail sent in between is counted twice, not lost
    counters = stats.snapshot()[pattern]
    drain_s = max(0.0, drained_at - answered_at)
    return timing_row(
        pattern, samples,
        delivered=counters["delivered"],
        # Neither delivered nor still queued: failed for good, or vanished. Late mail is still queued.
        lost=max(0, requests - counters["delivered"] - queued),
        failed=counters["failed"], still_queued=queued, drain_s=round(drain_s, 2),
        mail_per_s=round(counters["delivered"] / (samples.span_seconds + drain_s), 1),
        # The response waited for the mail server: the worker was held for the whole send.
        blocks=blocks_worker(samples, delay),
    )  # fmt: skip


def bench_signup(
    sandbox, name: str, requests: int, concurrency: int, delay: float, progress: bool, outside: bool | None = None
) -> dict:
    """A sign-up row (`signup-<way>[-<queue>]`): `requests` sign-ups, a new address each, and what became of each
    welcome mail. It adds `signed_up` (the 201s: the mail expected) to the keys of every row."""
    row, quiet = SIGNUP_ROWS[name], quiet_seconds(delay)
    # Warm the route, the queue's workers and, for the outbox, the relay it starts on its first use.
    warm = new_signups(f"warm-{name}", concurrency)
    measure(sandbox, row.path, len(warm), bodies=warm, warmup=0, concurrency=concurrency, outside=outside)
    warm_emails = {body["email"] for body in warm}
    drain(lambda: (welcomed(sandbox, warm_emails) + not_delivered(sandbox, row).failed, len(warm)), quiet)
    reset(sandbox, settle=())  # an empty inbox, zero counters
    failed_before = not_delivered(sandbox, row).failed  # the outbox's rows given up on stay in its table
    bodies = new_signups(name, requests)
    samples = measure(
        sandbox, row.path, requests, bodies=bodies, warmup=0, concurrency=concurrency, progress=progress,
        outside=outside, label=name,
    )  # fmt: skip
    emails, signed_up = {body["email"] for body in bodies}, samples.statuses[201]
    answered_at = max(sample.started_at + sample.seconds for sample in samples.samples)

    def mail_done() -> tuple[int, int]:
        return welcomed(sandbox, emails) + not_delivered(sandbox, row).failed - failed_before, signed_up

    drained_at = drain(mail_done, quiet)
    left = not_delivered(sandbox, row)  # before the deliveries: a mail sent in between is counted twice, not lost
    delivered = welcomed(sandbox, emails)
    drain_s = max(0.0, drained_at - answered_at)
    timed = timing_row(
        name, samples,
        delivered=delivered, lost=max(0, signed_up - delivered - left.queued), failed=left.failed - failed_before,
        still_queued=left.queued, drain_s=round(drain_s, 2),
        mail_per_s=round(delivered / (samples.span_seconds + drain_s), 1), blocks=blocks_worker(samples, delay),
    )  # fmt: skip
    return {**timed, "signed_up": signed_up}


# What became of the mail, for a row that sends none.
NO_MAIL = {"delivered": None, "lost": None, "failed": None, "still_queued": None, "drain_s": None, "mail_per_s": None}


def bench_ping(sandbox, requests: int, concurrency: int, progress: bool, outside: bool | None = None) -> dict:
    """The baseline row: a route that does nothing."""
    samples = measure(sandbox, "ping", requests, concurrency=concurrency, progress=progress, outside=outside)
    return timing_row("ping", samples, **NO_MAIL, blocks=False)


def timing_row(
    pattern: str, samples, *, delivered, lost, failed, still_queued, drain_s, mail_per_s, blocks: bool
) -> dict:
    """One row of the table from timed requests: percentiles, requests per second, what became of the mail.

    `lost` counts mail neither delivered nor still queued when the bench stopped waiting (`failed` is part of it);
    `drain_s` is how long after the last answer the last mail went out (or the bench stopped waiting, with mail
    `still_queued`), `mail_per_s` the delivery rate from the first request to then. `smtp_ms`, `view_ms` and
    `outside_ms` are the medians of each response's three parts (Samples.split_ms).
    """
    split = {part: round(percentile(values, 50), 2) if values else None for part, values in samples.split_ms().items()}
    return {
        "pattern": pattern,
        "n": samples.n,
        "p50_ms": round(samples.p50_ms, 2),
        "p95_ms": round(samples.p95_ms, 2),
        "p99_ms": round(samples.p99_ms, 2),
        "rps": round(samples.n / samples.span_seconds, 1),
        "delivered": delivered,
        "lost": lost,
        "failed": failed,
        "still_queued": still_queued,
        "drain_s": drain_s,
        "mail_per_s": mail_per_s,
        "blocks_worker": blocks,
        **{f"{part}_ms": value for part, value in split.items()},
    }


def bulk_messages(count: int) -> list[str]:
    """`count` distinct recipients, as a newsletter would have."""
    return [f"reader{number}@example.com" for number in range(1, count + 1)]


def send_bulk(sandbox, recipients: list[str], reuse: bool) -> dict:
    """POST /send/bulk once; the report it answers (delivered, connections, seconds, per-message ms).

    A 502/503 (nothing delivered) still answers with the report.
    """
    email = {**DEFAULT_EMAIL, "to": recipients, "reuse": reuse}
    return call(sandbox, "POST", "send/bulk", email, timeout=60 + 2 * len(recipients)).json


def bench_bulk(sandbox, messages: int, connect_delay: float) -> dict:
    """The bulk row: `messages` mails with one connection each, then over one reused connection.

    Only the connection costs: the mail server waits `connect_delay` before each greeting and
    nothing per message, so the difference is the connections saved.
    """
    server = sandbox.mail_server
    saved = server.settings
    server.configure(delay=0.0, delay_range=None, connect_delay=connect_delay)
    try:
        send_bulk(sandbox, bulk_messages(2), reuse=True)  # warm the code path
        each = send_bulk(sandbox, bulk_messages(messages), reuse=False)
        reused = send_bulk(sandbox, bulk_messages(messages), reuse=True)
    finally:
        server.configure(delay=saved.delay, delay_range=saved.delay_range, connect_delay=saved.connect_delay)
    message_ms = reused.get("message_ms") or [0.0]
    return {
        "pattern": BULK,
        # Per message over the reused connection: a bulk send is one request for all of them.
        "p50_ms": round(percentile(message_ms, 50), 2),
        "p95_ms": round(percentile(message_ms, 95), 2),
        "p99_ms": round(percentile(message_ms, 99), 2),
        "rps": round(messages / reused["seconds"], 1) if reused.get("seconds") else 0.0,
        "delivered": reused.get("delivered", 0),
        "lost": messages - reused.get("delivered", 0),
        # One request sends them all before it answers: nothing is left to drain.
        "failed": messages - reused.get("delivered", 0),
        "still_queued": 0,
        "drain_s": 0.0,
        "mail_per_s": round(reused.get("delivered", 0) / reused["seconds"], 1) if reused.get("seconds") else 0.0,
        "blocks_worker": True,
        "messages": messages,
        "connect_delay_s": connect_delay,
        "connections": reused.get("connections"),
        "seconds": reused.get("seconds"),
        "seconds_one_connection_each": each.get("seconds"),
        "delivered_one_connection_each": each.get("delivered", 0),
        "speedup": round(each["seconds"] / reused["seconds"], 1) if reused.get("seconds") else None,
    }


def measure_rows(
    sandbox,
    delay: float,
    requests: int,
    concurrency: int,
    patterns: list[str],
    progress: bool = False,
    bulk_count: int = 100,
    connect_delay: float = 0.05,
    outside: bool | None = None,
) -> list[dict]:
    """/ping and each pattern (bulk last) on this sandbox, with the mail server waiting `delay` per message.

    A `signup-...` name measures lesson 18's sign-ups (bench_signup) with the queue it names behind them.

    A queue is measured with its own workers running and no other queue's; the queues run as before afterwards.

    `outside=True` runs the clients in a process of their own (the default when the app runs in its own).
    """
    if not sandbox.running:
        raise SandboxNotRunning()
    sandbox.mail_server.configure(delay=delay)
    rows = [bench_ping(sandbox, requests, concurrency, progress, outside)]
    with queues_paused(sandbox):  # once: each queue's workers then start and stop around its own row
        for pattern in (p for p in patterns if p != BULK):
            signup = SIGNUP_ROWS.get(pattern)
            queue = signup.via if signup else pattern
            bench_row = bench_signup if signup else bench_pattern
            # A queue's workers alone, in processes of their own as in production.
            with only_queue(sandbox, queue) if queue in BACKENDS else nullcontext():
                rows.append(bench_row(sandbox, pattern, requests, concurrency, delay, progress, outside))
    if BULK in patterns:
        rows.append(bench_bulk(sandbox, bulk_count, connect_delay))
    return rows


def run_table(
    config: SandboxConfig,
    requests: int,
    concurrency: int,
    patterns: list[str],
    progress: bool,
    bulk_count: int = 100,
    connect_delay: float = 0.05,
) -> list[dict]:
    """Measure /ping and each pattern on a fresh sandbox of `config`, stopped afterwards.

    Under an outside server the app runs in its own process(es), and the clients in one of theirs.
    """
    with Sandbox(config) as sandbox:
        return measure_rows(
            sandbox, config.smtp_delay, requests, concurrency, patterns, progress, bulk_count, connect_delay
        )


def format_table(rows: list[dict]) -> Table:
    """The rows as a table (bulk has its own block: see format_bulk)."""
    columns = ["pattern", "p50 ms", "p95 ms", "p99 ms", "req/s", "delivered", "failed", "still queued", "lost",
               "drain s", "mail/s", "blocks the worker"]  # fmt: skip
    shown = [
        [
            row["pattern"], row["p50_ms"], row["p95_ms"], row["p99_ms"], row["rps"], row["delivered"], row["failed"],
            row["still_queued"], row["lost"], row["drain_s"], row["mail_per_s"],
            "-" if row["pattern"] == "ping" else ("yes" if row["blocks_worker"] else "no"),
        ]
        for row in rows
        if row["pattern"] != BULK
    ]  # fmt: skip
    return Table(columns, shown)


def format_split(rows: list[dict]) -> Table:
    """Where each pattern's median response went, from the Server-Timing headers (bulk left out)."""
    columns = ["pattern", "p50 ms", "waiting for the mail server", "the view's own work", "outside the view"]
    shown = [
        [row["pattern"], row["p50_ms"], row["smtp_ms"], row["view_ms"], row["outside_ms"]]
        for row in rows
        if row["pattern"] != BULK
    ]
    return Table(columns, shown, "Medians in ms, each taken on its own: the parts need not add up to the p50")


def format_bulk(row: dict) -> str:
    """The bulk comparison: the same messages with one connection each, and over one connection."""
    lines = [
        f"bulk: {row['messages']} messages, mail server connect delay {row['connect_delay_s'] * 1000:g} ms, "
        "no per-message delay",
        f"  {'mail.send per message':<24}{row['messages']:>5} connections  {row['seconds_one_connection_each']:8.2f} s"
        f"  delivered {row['delivered_one_connection_each']}",
        f"  {'mail.connect() reused':<24}{row['connections']:>5} connection{'s' if row['connections'] != 1 else ' '}"
        f"  {row['seconds']:8.2f} s  delivered {row['delivered']}",
        f"  connection reuse: {row['speedup']:g}x faster",
    ]
    return "\n".join(lines)


def headline(rows: list[dict]) -> list[str]:
    """The figures the course promises, from this run: ratios and gaps at the median."""
    by_name = {row["pattern"]: row for row in rows}
    lines = []
    if "blocking" in by_name and "threaded" in by_name:
        ratio = by_name["blocking"]["p50_ms"] / by_name["threaded"]["p50_ms"]
        lines.append(f"blocking / threaded (p50):       {ratio:.0f}x")
    for name in HEADLINE_PATTERNS:
        if name in by_name:
            gap = by_name[name]["p50_ms"] - by_name["ping"]["p50_ms"]
            lines.append(f"{name + ' - ping (p50):':<33}{gap:.2f} ms")
    for name in HEADLINE_PATTERNS:
        if name in by_name and "blocking" in by_name and by_name["blocking"]["rps"]:
            ratio = by_name[name]["rps"] / by_name["blocking"]["rps"]
            lines.append(f"{name + ' / blocking (req/s):':<33}{ratio:.1f}x")
    return lines

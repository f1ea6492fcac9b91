"""`python -m sandbox_app bench`: every pattern on one sandbox in one run, as the page's comparison table."""

from __future__ import annotations

import argparse
import json
import smtplib
import sys
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

from .. import runner
from ..cli import non_negative, positive_int, queue_url
from ..patterns import ASYNC_PATTERNS, PATTERNS
from ..queue.consumer import ConsumerError
from ..servers import DEFAULT_WORKERS, IN_PROCESS, SERVERS, WORKERS_ARE, ServerUnavailable
from ..smtp.server import LOOPBACK, DebugMailServer, free_port
from .client import call
from .experiments import blocks_worker
from .sandbox import settle, stats_of
from .tables import Table
from .timing import DEFAULT_EMAIL, measure, measure_send, percentile

BULK = "bulk"

SETTLE_TIMEOUT = 30.0


def bench_pattern(
    sandbox, pattern: str, requests: int, concurrency: int, delay: float, progress: bool, outside: bool | None = None
) -> dict:
    """One row of the table: response percentiles, throughput, and what became of the mail."""
    stats = stats_of(sandbox)
    # Warm this pattern's code path.
    measure_send(sandbox, pattern, concurrency, warmup=0, concurrency=concurrency, outside=outside)
    settle(sandbox, pattern, stats.snapshot()[pattern]["accepted"], SETTLE_TIMEOUT)
    stats.reset()
    samples = measure_send(
        sandbox, pattern, requests, warmup=0, concurrency=concurrency, progress=progress, outside=outside
    )
    counters = settle(sandbox, pattern, stats.snapshot()[pattern]["accepted"], SETTLE_TIMEOUT + 2 * delay)
    return timing_row(
        pattern, samples,
        delivered=counters["delivered"],
        lost=requests - counters["delivered"],
        # The response waited for the mail server: the worker was held for the whole send.
        blocks=blocks_worker(samples, delay),
    )  # fmt: skip


def bench_ping(sandbox, requests: int, concurrency: int, progress: bool, outside: bool | None = None) -> dict:
    """The baseline row: a route that does nothing."""
    samples = measure(sandbox, "ping", requests, concurrency=concurrency, progress=progress, outside=outside)
    return timing_row("ping", samples, delivered=None, lost=None, blocks=False)


def timing_row(pattern: str, samples, *, delivered, lost, blocks: bool) -> dict:
    """One row of the table from timed requests: percentiles, requests per second, what became of the mail.

    `smtp_ms`, `view_ms` and `outside_ms` are the medians of each response's three parts (Samples.split_ms).
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

    `outside=True` runs the clients in a process of their own (the default when the app runs in its own).
    """
    if not sandbox.running:
        raise runner.SandboxNotRunning()
    sandbox.mail_server.configure(delay=delay)
    if "queue" in patterns:
        sandbox.start_consumer()  # its own process, as in production; ready before timing starts
    rows = [bench_ping(sandbox, requests, concurrency, progress, outside)]
    rows += [bench_pattern(sandbox, p, requests, concurrency, delay, progress, outside) for p in patterns if p != BULK]
    if BULK in patterns:
        rows.append(bench_bulk(sandbox, bulk_count, connect_delay))
    return rows


def run_table(
    delay: float,
    requests: int,
    concurrency: int,
    patterns: list[str],
    progress: bool,
    bulk_count: int = 100,
    connect_delay: float = 0.05,
    queue_url: str | None = None,
    server: str = IN_PROCESS,
    workers: int | None = None,
) -> list[dict]:
    """Measure /ping and each pattern on one fresh sandbox (its queue on Redis when `queue_url` is given).

    Under an outside `server` the app runs in its own process(es), and the clients in one of theirs.
    """
    runner.stop()
    config = {"QUEUE_URL": queue_url} if queue_url else None
    sandbox = runner.start(smtp_delay=delay, config=config, server=server, workers=workers)
    try:
        return measure_rows(sandbox, delay, requests, concurrency, patterns, progress, bulk_count, connect_delay)
    finally:
        sandbox.stop()


def format_table(rows: list[dict]) -> Table:
    """The rows as a table (bulk has its own block: see format_bulk)."""
    columns = ["pattern", "p50 ms", "p95 ms", "p99 ms", "req/s", "delivered", "lost", "blocks the worker"]
    shown = [
        [
            row["pattern"], row["p50_ms"], row["p95_ms"], row["p99_ms"], row["rps"], row["delivered"], row["lost"],
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
    for name in ("threaded", "pool", "queue"):
        if name in by_name:
            gap = by_name[name]["p50_ms"] - by_name["ping"]["p50_ms"]
            lines.append(f"{name + ' - ping (p50):':<33}{gap:.2f} ms")
    for name in ("threaded", "pool", "queue"):
        if name in by_name and "blocking" in by_name and by_name["blocking"]["rps"]:
            ratio = by_name[name]["rps"] / by_name["blocking"]["rps"]
            lines.append(f"{name + ' / blocking (req/s):':<33}{ratio:.1f}x")
    return lines


def sample_message() -> bytes:
    """A message like the ones the app sends."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = (
        "sandbox@example.com",
        DEFAULT_EMAIL["to"],
        DEFAULT_EMAIL["subject"],
    )
    message.set_content(DEFAULT_EMAIL["body"])
    return message.as_bytes()


def capture_rate_of(port: int, messages: int) -> float:
    """Messages per second one SMTP connection gets accepted by the server on `port`."""
    raw = sample_message()
    with smtplib.SMTP(LOOPBACK, port, timeout=10) as client:
        started = time.perf_counter()
        for _ in range(messages):
            client.sendmail("sandbox@example.com", [DEFAULT_EMAIL["to"]], raw)
        return messages / (time.perf_counter() - started)


def capture_rates(messages: int = 500, rounds: int = 3) -> dict:
    """The debug server's capture rate vs a bare aiosmtpd Sink, alternating, best of `rounds`."""
    best = {"sandbox": 0.0, "sink": 0.0}
    for _ in range(rounds):
        with DebugMailServer() as server:
            best["sandbox"] = max(best["sandbox"], capture_rate_of(server.port, messages))
        sink = Controller(Sink(), hostname=LOOPBACK, port=free_port(), server_hostname="sink.invalid")
        sink.start()
        try:
            best["sink"] = max(best["sink"], capture_rate_of(sink.port, messages))
        finally:
            sink.stop()
    return {
        "sandbox_per_s": round(best["sandbox"]),
        "sink_per_s": round(best["sink"]),
        "ratio": round(best["sandbox"] / best["sink"], 2),
    }


def run(args: argparse.Namespace) -> int:
    """The bench subcommand."""
    choices = [*PATTERNS, *ASYNC_PATTERNS, BULK]
    patterns = args.patterns.split(",") if args.patterns else [*PATTERNS, BULK]
    unknown = [p for p in patterns if p not in choices]
    if unknown:
        print(f"error: unknown pattern(s): {', '.join(unknown)}; choose from {', '.join(choices)}", file=sys.stderr)
        return 2
    try:
        rows = run_table(
            args.smtp_delay,
            args.requests,
            args.concurrency,
            patterns,
            progress=True,  # tqdm writes to stderr
            bulk_count=args.bulk_messages,
            connect_delay=args.connect_delay,
            queue_url=args.queue_url,
            server=args.server,
            workers=args.workers,
        )
    except (ConsumerError, ServerUnavailable, runner.ServerStartError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    capture = capture_rates() if args.capture else None
    if args.json:
        print(json.dumps({"rows": rows, "capture": capture} if capture else rows, indent=2))
        return 0
    print(
        f"SMTP delay {args.smtp_delay:g} s, {args.requests} requests per pattern, "
        f"{args.concurrency} client(s) at once, app {args.server} with "
        f"{args.workers or DEFAULT_WORKERS[args.server]} {WORKERS_ARE[args.server]}"
        + (f", queue on {args.queue_url}" if args.queue_url else "")
        + "\n"
    )
    print(repr(format_table(rows)))
    print()
    print("\n".join(headline(rows)))
    bulk = next((row for row in rows if row["pattern"] == BULK), None)
    if bulk:
        print()
        print(format_bulk(bulk))
    if capture:
        print(
            f"\ncapture rate over one connection: sandbox {capture['sandbox_per_s']}/s, "
            f"bare aiosmtpd Sink {capture['sink_per_s']}/s, ratio {capture['ratio']:.2f}"
        )
    return 0


def add_parser(subcommands) -> None:
    """Register `bench` on the main command line."""
    parser = subcommands.add_parser("bench", help="measure every pattern and print the comparison table")
    parser.add_argument("--smtp-delay", type=non_negative, default=0.3, help="seconds per message (default 0.3)")
    parser.add_argument("--requests", type=positive_int, default=30, help="requests per pattern (default 30)")
    parser.add_argument("--concurrency", type=positive_int, default=1, help="clients at once (default 1)")
    parser.add_argument("--patterns", default="", help="comma-separated patterns (default: all, and bulk)")
    parser.add_argument(
        "--bulk-messages", type=positive_int, default=100, help="messages in the bulk comparison (default 100)"
    )
    parser.add_argument(
        "--connect-delay",
        type=non_negative,
        default=0.05,
        help="seconds the mail server waits per connection in the bulk comparison (default 0.05)",
    )
    parser.add_argument("--queue-url", type=queue_url, help="measure the queue on this Redis (default: SQLite)")
    parser.add_argument("--capture", action="store_true", help="also compare the capture rate with aiosmtpd's Sink")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument(
        "--server",
        choices=SERVERS,
        default=IN_PROCESS,
        help="where the app runs (default inprocess); outside it, the clients run in a process of their own",
    )
    parser.add_argument("--workers", type=positive_int, default=None, help="the server's threads or processes")
    parser.set_defaults(func=run)

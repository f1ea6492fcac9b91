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

from . import runner
from .mailserver import LOOPBACK, DebugMailServer, free_port
from .measure import DEFAULT_EMAIL, measure, measure_send
from .patterns import PATTERNS

SETTLE_TIMEOUT = 30.0


def settle(sandbox, pattern: str, accepted: int, timeout: float) -> dict:
    """Wait until every accepted message of `pattern` is delivered or failed; return its counters."""
    stats = sandbox.app.extensions["sandbox_stats"]
    deadline = time.monotonic() + timeout
    while True:
        counters = stats.snapshot()[pattern]
        if counters["delivered"] + counters["failed"] >= accepted or time.monotonic() > deadline:
            return counters
        time.sleep(0.02)


def bench_pattern(sandbox, pattern: str, requests: int, concurrency: int, delay: float, progress: bool) -> dict:
    """One row of the table: response percentiles, throughput, and what became of the mail."""
    stats = sandbox.app.extensions["sandbox_stats"]
    measure_send(sandbox, pattern, concurrency, warmup=0)  # warm this pattern's code path
    settle(sandbox, pattern, stats.snapshot()[pattern]["accepted"], SETTLE_TIMEOUT)
    stats.reset()
    started = time.perf_counter()
    samples = measure_send(sandbox, pattern, requests, warmup=0, concurrency=concurrency, progress=progress)
    elapsed = time.perf_counter() - started
    counters = settle(sandbox, pattern, stats.snapshot()[pattern]["accepted"], SETTLE_TIMEOUT + 2 * delay)
    return {
        "pattern": pattern,
        "p50_ms": round(samples.p50_ms, 2),
        "p95_ms": round(samples.p95_ms, 2),
        "p99_ms": round(samples.p99_ms, 2),
        "rps": round(requests / elapsed, 1),
        "delivered": counters["delivered"],
        "lost": requests - counters["delivered"],
        # The response waited for the mail server: the worker was held for the whole send.
        "blocks_worker": bool(delay) and samples.p50_ms >= 0.8 * delay * 1000,
    }


def bench_ping(sandbox, requests: int, concurrency: int, progress: bool) -> dict:
    """The baseline row: a route that does nothing."""
    started = time.perf_counter()
    samples = measure(sandbox, "ping", requests, concurrency=concurrency, progress=progress)
    elapsed = time.perf_counter() - started
    return {
        "pattern": "ping",
        "p50_ms": round(samples.p50_ms, 2),
        "p95_ms": round(samples.p95_ms, 2),
        "p99_ms": round(samples.p99_ms, 2),
        "rps": round(requests / elapsed, 1),
        "delivered": None,
        "lost": None,
        "blocks_worker": False,
    }


def run_table(delay: float, requests: int, concurrency: int, patterns: list[str], progress: bool) -> list[dict]:
    """Measure /ping and each pattern on one fresh sandbox."""
    runner.stop()
    sandbox = runner.start(smtp_delay=delay)
    try:
        rows = [bench_ping(sandbox, requests, concurrency, progress)]
        rows += [bench_pattern(sandbox, p, requests, concurrency, delay, progress) for p in patterns]
    finally:
        sandbox.stop()
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as an aligned text table."""
    header = f"{'pattern':<10} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'req/s':>8} {'delivered':>10} {'lost':>5}  blocks the worker"
    lines = [header, "-" * len(header)]
    for row in rows:
        delivered = "-" if row["delivered"] is None else row["delivered"]
        lost = "-" if row["lost"] is None else row["lost"]
        blocks = "-" if row["pattern"] == "ping" else ("yes" if row["blocks_worker"] else "no")
        lines.append(
            f"{row['pattern']:<10} {row['p50_ms']:>9.2f} {row['p95_ms']:>9.2f} {row['p99_ms']:>9.2f} "
            f"{row['rps']:>8.1f} {delivered:>10} {lost:>5}  {blocks}"
        )
    return "\n".join(lines)


def headline(rows: list[dict]) -> list[str]:
    """The figures the course promises: blocking/threaded and threaded - ping, at the median."""
    by_name = {row["pattern"]: row for row in rows}
    lines = []
    if "blocking" in by_name and "threaded" in by_name:
        ratio = by_name["blocking"]["p50_ms"] / by_name["threaded"]["p50_ms"]
        lines.append(f"blocking / threaded (p50): {ratio:.0f}x")
    if "threaded" in by_name:
        gap = by_name["threaded"]["p50_ms"] - by_name["ping"]["p50_ms"]
        lines.append(f"threaded - ping (p50):     {gap:.2f} ms")
    return lines


def sample_message() -> bytes:
    """A message like the ones the app sends."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "sandbox@example.com", DEFAULT_EMAIL["to"], DEFAULT_EMAIL["subject"]
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
    patterns = args.patterns.split(",") if args.patterns else list(PATTERNS)
    unknown = [p for p in patterns if p not in PATTERNS]
    if unknown:
        print(f"error: unknown pattern(s): {', '.join(unknown)}; choose from {', '.join(PATTERNS)}", file=sys.stderr)
        return 2
    rows = run_table(args.smtp_delay, args.requests, args.concurrency, patterns, progress=not args.json)
    capture = capture_rates() if args.capture else None
    if args.json:
        print(json.dumps({"rows": rows, "capture": capture} if capture else rows, indent=2))
        return 0
    print(
        f"SMTP delay {args.smtp_delay:g} s, {args.requests} requests per pattern, "
        f"{args.concurrency} client(s) at once, {runner.DEFAULT_WORKERS} app workers\n"
    )
    print(format_table(rows))
    print()
    print("\n".join(headline(rows)))
    if capture:
        print(
            f"\ncapture rate over one connection: sandbox {capture['sandbox_per_s']}/s, "
            f"bare aiosmtpd Sink {capture['sink_per_s']}/s, ratio {capture['ratio']:.2f}"
        )
    return 0


def add_parser(subcommands, *, non_negative, positive_int) -> None:
    """Register `bench` on the main command line."""
    parser = subcommands.add_parser("bench", help="measure every pattern and print the comparison table")
    parser.add_argument("--smtp-delay", type=non_negative, default=0.3, help="seconds per message (default 0.3)")
    parser.add_argument("--requests", type=positive_int, default=30, help="requests per pattern (default 30)")
    parser.add_argument("--concurrency", type=positive_int, default=1, help="clients at once (default 1)")
    parser.add_argument("--patterns", default="", help="comma-separated patterns (default: all)")
    parser.add_argument("--capture", action="store_true", help="also compare the capture rate with aiosmtpd's Sink")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.set_defaults(func=run)

"""`python -m sandbox_app bench`: every pattern on one sandbox in one run, printed as the page's comparison table."""

from __future__ import annotations

import argparse
import json
import sys

from ..config import SandboxConfig
from ..lab import bench as lab_bench
from ..lab.bench import BENCH_CHOICES, BULK, DEFAULT_PATTERNS, format_bulk, format_table, headline, run_table
from ..lab.capture import capture_rates
from ..lab.signup_bench import PREFIX, SIGNUP_ROWS
from ..patterns.signup import WAYS
from ..processes.child import ChildError
from ..processes.servers import ServerUnavailable, serving
from .options import add_server_options, non_negative, positive_int
from .serve import shown_url


def patterns_list(text: str) -> list[str]:
    """argparse type: comma-separated pattern names, each one the bench knows."""
    patterns = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in patterns if name not in BENCH_CHOICES]
    if unknown or not patterns:
        named = ", ".join(unknown) if unknown else "none"
        raise argparse.ArgumentTypeError(f"unknown pattern(s): {named}; choose from {', '.join(BENCH_CHOICES)}")
    return patterns


def describe(config: SandboxConfig, args: argparse.Namespace) -> str:
    """The line above the table: what was measured, and how."""
    return (
        f"SMTP delay {config.smtp_delay:g} s, {args.requests} requests per pattern, {args.concurrency} client(s) "
        f"at once, app {config.server} with {serving(config.server, config.workers)}"
        + (f", queue on {config.queue_url}" if config.queue_url else "")
        + (f", database {shown_url(config.database_url)}" if config.database_url else "")
    )


def bench(args: argparse.Namespace) -> int:
    """The bench subcommand: measure, then print the table (or JSON)."""
    config = SandboxConfig.resolve(
        smtp_delay=args.smtp_delay,
        server=args.server,
        workers=args.workers,
        queue_url=args.queue_url,
        database_url=args.database_url,
    )
    try:
        patterns = lab_bench.check_patterns(
            args.patterns or list(lab_bench.default_patterns(config.server)), config.server
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        rows = run_table(
            config, args.requests, args.concurrency, patterns, progress=True,  # tqdm writes to stderr
            bulk_count=args.bulk_messages, connect_delay=args.connect_delay,
        )  # fmt: skip
    except (ChildError, ServerUnavailable, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    capture = capture_rates() if args.capture else None
    if args.json:
        print(json.dumps({"rows": rows, "capture": capture} if capture else rows, indent=2))
        return 0
    print(describe(config, args) + "\n")
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


def add_bench(subcommands) -> None:
    """Register `bench` on the main command line."""
    parser = subcommands.add_parser("bench", help="measure every pattern and print the comparison table")
    parser.add_argument("--smtp-delay", type=non_negative, default=0.3, help="seconds per message (default 0.3)")
    parser.add_argument("--requests", type=positive_int, default=30, help="requests per pattern (default 30)")
    parser.add_argument("--concurrency", type=positive_int, default=1, help="clients at once (default 1)")
    parser.add_argument(
        "--patterns",
        type=patterns_list,
        default=None,
        help=f"comma-separated, from {','.join(name for name in BENCH_CHOICES if name not in SIGNUP_ROWS)} "
        f"(default: {','.join(DEFAULT_PATTERNS)}; gevent too with --server {lab_bench.GREENLET_SERVER}), and "
        f"lesson 18's sign-ups, {PREFIX}<way> (Huey behind it) or {PREFIX}<way>-celery|-rq, ways {','.join(WAYS)}",
    )
    parser.add_argument(
        "--bulk-messages", type=positive_int, default=100, help="messages in the bulk comparison (default 100)"
    )
    parser.add_argument(
        "--connect-delay",
        type=non_negative,
        default=0.05,
        help="seconds the mail server waits per connection in the bulk comparison (default 0.05)",
    )
    add_server_options(parser)
    parser.add_argument("--capture", action="store_true", help="also compare the capture rate with aiosmtpd's Sink")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.set_defaults(func=bench)

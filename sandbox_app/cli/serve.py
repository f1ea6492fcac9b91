"""`python -m sandbox_app`: run the app and the debug mail server until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from ..addresses import KEY_HEADER, KEY_PARAMETER
from ..config import SandboxConfig
from ..processes.child import ChildError
from ..processes.env import report_ready
from ..processes.redis import RedisUnavailable
from ..processes.servers import ServerUnavailable, shown_command
from ..queue.broker import BROKER_PATTERNS
from ..queue.broker import DEFAULT_WORKERS as DEFAULT_BROKER_WORKERS
from ..queue.mailqueue import DEFAULT_WORKERS as DEFAULT_QUEUE_WORKERS
from ..sandbox import Sandbox
from ..smtp.loopback import LOOPBACK
from .options import add_serve_options, workers_count


def config_from(args: argparse.Namespace) -> SandboxConfig:
    """The sandbox's settings from the command line and the environment ($SANDBOX_KEY, ...): ValueError if they clash."""
    return SandboxConfig.resolve(
        host=args.host,
        port=args.port,
        smtp_port=args.smtp_port,
        smtp_delay=args.smtp_delay or None,
        smtp_server=args.smtp_server,
        key=args.key,
        open=args.open or None,
        server=args.server,
        workers=args.workers,
        queue_url=args.queue_url,
        queue_name=args.queue_name,
        echo_log=True,
        app_config={
            f"{pattern.upper()}_WORKERS": count
            for pattern in BROKER_PATTERNS
            if (count := getattr(args, f"{pattern}_workers")) is not None
        },
    )


def banner(sandbox: Sandbox, consumer) -> list[str]:
    """What the sandbox prints once it runs: where the app and the mail server are, and how to get in."""
    key = f"?{KEY_PARAMETER}={sandbox.key}" if sandbox.key else ""
    lines = ["Mail sandbox running. Press Ctrl-C to stop.", f"  app:         {sandbox.url}{key}"]
    if sandbox.app_process is not None:
        lines.append(f"  server:      {sandbox.server}, {sandbox.serving}, pid {sandbox.app_process.pid}")
        lines.append(f"  command:     {shown_command(sandbox.app_process.command)}")
    server = sandbox.mail_server
    if server is not None:
        lines.append(f"  mail server: smtp://{server.address} (captures mail, never relays)")
        if server.login:
            lines.append(f"  SMTP login:  user {server.login[0]}, password {server.login[1]} (AUTH PLAIN or LOGIN)")
    else:
        lines.append(f"  mail server: smtp://{sandbox.smtp_address} (outside: the app only sends to it)")
    queue = sandbox.queue
    worker = f"consumer pid {consumer.pid}" if consumer else "no consumer started"
    lines.append(f"  queue:       {queue.name} on {queue.url or 'SQLite'} ({worker})")
    broker = sandbox.broker
    for pattern in BROKER_PATTERNS:
        name, running = ("Celery" if pattern == "celery" else "RQ"), broker.running_workers(pattern)
        if running:
            pids = ", ".join(str(process.pid) for process in running)
            lines.append(f"  {pattern + ':':<13}{name} on Redis {broker.address} (worker pid {pids})")
        elif broker.counts[pattern]:
            lines.append(f"  {pattern + ':':<13}{name} on Redis (Redis and the worker start on first use)")
        else:
            lines.append(f"  {pattern + ':':<13}{name} on Redis (no worker: --{pattern}-workers 0)")
    if sandbox.key:
        lines.append(
            f"  key:         send the header {KEY_HEADER}: {sandbox.key}, or open the app link once in a browser"
        )
    else:
        lines.append("  open:        no key and no SMTP login: anyone on this machine can use this sandbox")
    return lines


def serve(args: argparse.Namespace) -> int:
    """Run app + debug mail server until SIGINT or SIGTERM."""
    try:
        config = config_from(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    sandbox = Sandbox(config)
    try:
        sandbox.start()
        consumer = sandbox.start_consumer(args.queue_workers) if args.queue_workers else None
        for pattern in BROKER_PATTERNS:
            if getattr(args, f"{pattern}_workers"):  # asked for: now, with Redis; else on first use
                sandbox.start_worker(pattern, getattr(args, f"{pattern}_workers"))
    except OSError as error:
        sandbox.stop()
        print(f"error: {error.strerror or error}", file=sys.stderr)
        return 2
    except (ServerUnavailable, ChildError, RedisUnavailable) as error:
        sandbox.stop()
        print(f"error: {error}", file=sys.stderr)
        return 2
    stop_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    signal.signal(signal.SIGINT, lambda *_: stop_requested.set())
    print("\n".join(banner(sandbox, consumer)))
    if config.host != LOOPBACK:
        print(f"  note: the app listens on {config.host}, beyond this machine's loopback", file=sys.stderr)
    sys.stdout.flush()
    # For a launching process (WebProcess): where the app is and its key, in a file, never read off the banner.
    report_ready(url=sandbox.url, key=sandbox.key, smtp=sandbox.smtp_address, pid=os.getpid())
    while not stop_requested.wait(0.5):
        pass
    print("Stopping...", flush=True)
    sandbox.stop()
    print("Stopped.")
    return 0


def add_serve(parser: argparse.ArgumentParser) -> None:
    """The serve command's options on the main parser (serving is what `python -m sandbox_app` does)."""
    add_serve_options(parser)
    parser.add_argument(
        "--queue-workers",
        type=workers_count,
        default=DEFAULT_QUEUE_WORKERS,
        help=f"threads of the queue's consumer process, 0 = start no consumer (default {DEFAULT_QUEUE_WORKERS})",
    )
    for pattern, name in (("celery", "Celery worker's threads"), ("rq", "RQ worker processes")):
        parser.add_argument(
            f"--{pattern}-workers",
            type=workers_count,
            default=None,
            help=f"{name}, started now with Redis; 0 = none (default: {DEFAULT_BROKER_WORKERS[pattern]}, "
            "started with Redis when the pattern is first used)",
        )
    parser.set_defaults(func=serve)

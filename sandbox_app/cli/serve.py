"""`python -m sandbox_app`: run the app and the debug mail server until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from sqlalchemy.engine import make_url

from ..addresses import KEY_HEADER, KEY_PARAMETER
from ..config import SandboxConfig
from ..processes.child import ChildError
from ..processes.env import report_ready
from ..processes.servers import ServerUnavailable, shown_command
from ..queues.redis_server import RedisUnavailable
from ..queues.registry import BACKENDS
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
        database_url=args.database_url,
        queue_name=args.queue_name,
        echo_log=True,
        app_config={
            backend.workers_setting.key: count
            for backend in BACKENDS.values()
            if (count := getattr(args, backend.workers_setting.dest)) is not None
        },
    )


def workers_at_start(args: argparse.Namespace) -> dict[str, int]:
    """Per queue, the workers to start with the sandbox: those asked for, and the ones a queue starts at launch."""
    counts = {}
    for pattern, backend in BACKENDS.items():
        setting = backend.workers_setting
        count = getattr(args, setting.dest)
        if count is None and setting.at_launch:
            count = setting.default
        if count:
            counts[pattern] = count
    return counts


def shown_url(url: str) -> str:
    """A database URL as the banner shows it: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def banner(sandbox: Sandbox) -> list[str]:
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
    lines += [f"  {pattern + ':':<13}{sandbox.backend(pattern).describe()}" for pattern in BACKENDS]
    lines.append(f"  database:    {shown_url(sandbox.settings.database_url)}")
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
        for pattern, count in workers_at_start(args).items():  # the others start with Redis, on first use
            sandbox.start_worker(pattern, count)
        if args.outbox_relays:  # else one starts on the outbox's first use
            sandbox.start_relay(args.outbox_relays)
    except OSError as error:
        sandbox.stop()
        print(f"error: {error.strerror or error}", file=sys.stderr)
        return 2
    # ValueError, RuntimeError: more than one outbox relay on SQLite, or a SQLite too old for the relay's claim.
    except (ServerUnavailable, ChildError, RedisUnavailable, ValueError, RuntimeError) as error:
        sandbox.stop()
        print(f"error: {error}", file=sys.stderr)
        return 2
    stop_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    signal.signal(signal.SIGINT, lambda *_: stop_requested.set())
    print("\n".join(banner(sandbox)))
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
    for backend in BACKENDS.values():
        setting = backend.workers_setting
        when = (
            "started with the sandbox" if setting.at_launch
            else "started with Redis when the queue is first used; a number given starts them now"
        )  # fmt: skip
        parser.add_argument(
            setting.flag,
            type=workers_count,
            default=None,
            dest=setting.dest,
            help=f"{backend.library}: {setting.unit}, 0 = none (default {setting.default}, {when})",
        )
    parser.add_argument(
        "--outbox-relays",
        type=workers_count,
        default=0,
        help="outbox relay processes started with the sandbox (default 0: one starts on the outbox's first use; "
        "at most 1 on SQLite)",
    )
    parser.set_defaults(func=serve)

"""The serve command: `python -m sandbox_app` runs the app and the debug mail server until stopped."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable

from . import runner
from .queue.consumer import ConsumerError
from .queue.mailqueue import DEFAULT_WORKERS as DEFAULT_QUEUE_WORKERS
from .queue.storage import check_queue_name
from .servers import IN_PROCESS, SERVERS, WORKERS_ARE, ServerUnavailable
from .smtp.server import LOOPBACK
from .web.access import KEY_HEADER


def serve(args: argparse.Namespace) -> int:
    """Run app + debug mail server until SIGINT or SIGTERM."""
    if args.smtp_server and (args.smtp_port or args.smtp_delay):
        print(
            "error: --smtp-server sends to an outside mail server; --smtp-port and --smtp-delay "
            "configure the debug one: give one or the other",
            file=sys.stderr,
        )
        return 2
    queue_config = {"QUEUE_URL": args.queue_url, "QUEUE_NAME": args.queue_name}
    try:
        sandbox = runner.start(
            host=args.host,
            port=args.port,
            smtp_port=args.smtp_port,
            smtp_delay=None if args.smtp_server else args.smtp_delay,
            workers=args.workers,
            echo_log=True,
            smtp_server=args.smtp_server,
            config={k: v for k, v in queue_config.items() if v},
            smtp_password=os.environ.get(runner.SMTP_PASSWORD_ENV),
            key=args.key,
            open=args.open or None,
            server=args.server,
        )
    except OSError as error:
        print(f"error: {error.strerror or error}", file=sys.stderr)
        return 2
    except (ServerUnavailable, runner.ServerStartError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    mail_queue = sandbox.queue
    if args.queue_workers:
        try:
            sandbox.start_consumer(args.queue_workers)
        except ConsumerError as error:
            sandbox.stop()
            print(f"error: {error}", file=sys.stderr)
            return 2
    stop_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    signal.signal(signal.SIGINT, lambda *_: stop_requested.set())
    print("Mail sandbox running. Press Ctrl-C to stop.")
    print(f"  app:         {sandbox.url}" + (f"?key={sandbox.key}" if sandbox.key else ""))
    if sandbox.app_process is not None:
        print(
            f"  server:      {args.server}, {sandbox.workers} {WORKERS_ARE[args.server]}, pid {sandbox.app_process.pid}"
        )
    if sandbox.mail_server is not None:
        print(f"  mail server: smtp://{sandbox.mail_server.address} (captures mail, never relays)")
        if sandbox.smtp_login:
            print(
                f"  SMTP login:  user {sandbox.smtp_login[0]}, password {sandbox.smtp_login[1]} (AUTH PLAIN or LOGIN)"
            )
    else:
        print(f"  mail server: smtp://{sandbox.smtp_address} (outside: the app only sends to it)")
    consumer = f"consumer pid {mail_queue.consumer.pid}" if mail_queue.consumer else "no consumer started"
    print(f"  queue:       {mail_queue.name} on {mail_queue.url or 'SQLite'} ({consumer})")
    if sandbox.key:
        print(f"  key:         send the header {KEY_HEADER}: {sandbox.key}, or open the app link once in a browser")
    else:
        print("  open:        no key and no SMTP login: anyone on this machine can use this sandbox")
    if args.host != LOOPBACK:
        print(f"  note: the app listens on {args.host}, beyond this machine's loopback", file=sys.stderr)
    sys.stdout.flush()
    while not stop_requested.wait(0.5):
        pass
    print("Stopping...", flush=True)
    sandbox.stop()
    print("Stopped.")
    return 0


def non_negative(text: str) -> float:
    """argparse type: a number of seconds, zero or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 seconds, got {text}")
    return value


def port_number(text: str) -> int:
    """argparse type: a TCP port, 0 meaning any free one."""
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0-65535): {text!r}")
    return int(text)


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def smtp_address(text: str) -> str:
    """argparse type: host:port of an outside SMTP server."""
    try:
        runner.parse_smtp_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def queue_name(text: str) -> str:
    """argparse type: a queue name that can name a file and Redis keys."""
    try:
        return check_queue_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def sandbox_key(text: str) -> str:
    """argparse type: a key that can travel in a URL, a header and an SMTP password."""
    if not 8 <= len(text) <= 128 or not all(c.isalnum() or c in "-_" for c in text):
        raise argparse.ArgumentTypeError("a key is 8 to 128 letters, digits, '-' or '_'")
    return text


def queue_url(text: str) -> str:
    """argparse type: a redis:// URL."""
    if not text.startswith(("redis://", "rediss://", "unix://")):
        raise argparse.ArgumentTypeError(f"expected a redis:// URL, got {text!r}")
    return text


def workers_count(text: str) -> int:
    """argparse type: a whole number of workers, 0 or more."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number (0 or more), got {text!r}")
    return int(text)


def build_parser(*subcommand_adders: Callable) -> argparse.ArgumentParser:
    """The command line: serve by default, or a subcommand registered by one of `subcommand_adders`."""
    parser = argparse.ArgumentParser(prog="python -m sandbox_app", description=__doc__)
    parser.add_argument("--host", default=LOOPBACK, help="address the app listens on (default: 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=0, help="app port, 0 = any free port (default)")
    parser.add_argument("--smtp-port", type=port_number, default=0, help="mail server port, 0 = any free port")
    parser.add_argument(
        "--smtp-delay", type=non_negative, default=0.0, help="seconds the mail server waits per message"
    )
    parser.add_argument(
        "--server",
        choices=SERVERS,
        default=IN_PROCESS,
        help="where the app runs: in this process, or in its own under waitress or gunicorn (default inprocess)",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="worker threads (inprocess, waitress; default 4) or processes (gunicorn; default 4 sync, 1 gevent)",
    )
    parser.add_argument(
        "--smtp-server",
        type=smtp_address,
        metavar="HOST:PORT",
        help="send to this outside SMTP server instead of starting the debug mail server",
    )
    parser.add_argument(
        "--key",
        type=sandbox_key,
        default=None,
        help="the key every request must carry (default: $SANDBOX_KEY, else a random one)",
    )
    parser.add_argument(
        "--open",
        action="store_true",
        help="no key and no SMTP login, for a laptop that wants plain URLs (also $SANDBOX_OPEN=1)",
    )
    parser.add_argument("--queue-url", type=queue_url, help="Redis URL for the queue pattern (default: SQLite file)")
    parser.add_argument("--queue-name", type=queue_name, help="queue name, to share a queue with other processes")
    parser.add_argument(
        "--queue-workers",
        type=workers_count,
        default=DEFAULT_QUEUE_WORKERS,
        help=f"threads of the queue's consumer process, 0 = start no consumer (default {DEFAULT_QUEUE_WORKERS})",
    )
    parser.set_defaults(func=serve)
    subcommands = parser.add_subparsers(title="subcommands", metavar="{bench}")
    for add in subcommand_adders:
        add(subcommands)
    return parser

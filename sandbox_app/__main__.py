"""Command line: `python -m sandbox_app` runs the sandbox; `python -m sandbox_app bench` measures it."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from . import runner
from .mailserver import LOOPBACK


def serve(args: argparse.Namespace) -> int:
    """Run app + debug mail server until SIGINT or SIGTERM."""
    try:
        sandbox = runner.start(
            host=args.host, port=args.port, smtp_port=args.smtp_port,
            smtp_delay=args.smtp_delay, workers=args.workers, echo_log=True,
        )
    except OSError as error:
        print(f"error: {error.strerror or error}", file=sys.stderr)
        return 2
    stop_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    signal.signal(signal.SIGINT, lambda *_: stop_requested.set())
    print("Mail sandbox running. Press Ctrl-C to stop.")
    print(f"  app:         {sandbox.url}")
    print(f"  mail server: smtp://{sandbox.mail_server.address} (captures mail, never relays)")
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


def build_parser() -> argparse.ArgumentParser:
    """The command line: serve by default, or a subcommand."""
    parser = argparse.ArgumentParser(prog="python -m sandbox_app", description=__doc__)
    parser.add_argument("--host", default=LOOPBACK, help="address the app listens on (default: 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=0, help="app port, 0 = any free port (default)")
    parser.add_argument("--smtp-port", type=port_number, default=0, help="mail server port, 0 = any free port")
    parser.add_argument("--smtp-delay", type=non_negative, default=0.0, help="seconds the mail server waits per message")
    parser.add_argument("--workers", type=positive_int, default=runner.DEFAULT_WORKERS, help="app worker threads")
    parser.set_defaults(func=serve)
    subcommands = parser.add_subparsers(title="subcommands", metavar="{bench}")
    from . import bench

    bench.add_parser(subcommands, non_negative=non_negative, positive_int=positive_int)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run it."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

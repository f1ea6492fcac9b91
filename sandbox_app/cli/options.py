"""The command line's option types and the options `serve` and `bench` share, each defined once."""

from __future__ import annotations

import argparse

from ..config import check_database_url, check_key, parse_smtp_address
from ..processes.servers import DEFAULT_WORKERS, IN_PROCESS, SERVERS
from ..queues.names import check_queue_name
from ..queues.redis_server import check_redis_url
from ..smtp.loopback import LOOPBACK

MAX_SECONDS = 3600


def non_negative(text: str) -> float:
    """argparse type: a number of seconds, zero or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_SECONDS} seconds, got {text}")
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


def workers_count(text: str) -> int:
    """argparse type: a whole number of workers, 0 or more."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number (0 or more), got {text!r}")
    return int(text)


def checked_by(check):
    """argparse type from a checking function: its ValueError becomes the option's error message."""

    def convert(text: str):
        try:
            check(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return text

    convert.__name__ = check.__name__
    return convert


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """--server, --workers and --queue-url: where the app runs and where its queue lives (serve and bench)."""
    parser.add_argument(
        "--server",
        choices=SERVERS,
        default=IN_PROCESS,
        help="where the app runs: in this process, or in its own under waitress or gunicorn (default inprocess)",
    )
    defaults = ", ".join(f"{name} {count}" for name, count in DEFAULT_WORKERS.items())
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help=f"worker threads (inprocess, waitress) or processes (gunicorn); defaults: {defaults}",
    )
    parser.add_argument(
        "--queue-url", type=checked_by(check_redis_url), help="Redis URL for the queue (default: a SQLite file)"
    )
    parser.add_argument(
        "--database-url",
        type=checked_by(check_database_url),
        metavar="URL",
        help="the users' and the outbox's database: postgresql://USER:PASSWORD@HOST/DB or sqlite:///FILE "
        "(default: a SQLite file in the state folder)",
    )


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    """The options of the sandbox itself: addresses, the mail server, the key, the queue."""
    parser.add_argument("--host", default=LOOPBACK, help=f"address the app listens on (default: {LOOPBACK})")
    parser.add_argument("--port", type=port_number, default=0, help="app port, 0 = any free port (default)")
    parser.add_argument("--smtp-port", type=port_number, default=0, help="mail server port, 0 = any free port")
    parser.add_argument(
        "--smtp-delay", type=non_negative, default=0.0, help="seconds the mail server waits per message"
    )
    add_server_options(parser)
    parser.add_argument(
        "--smtp-server",
        type=checked_by(parse_smtp_address),
        metavar="HOST:PORT",
        help="send to this outside SMTP server instead of starting the debug mail server "
        "(its password, if any, in $SANDBOX_SMTP_PASSWORD)",
    )
    parser.add_argument(
        "--key",
        type=checked_by(check_key),
        default=None,
        help="the key every request must carry (default: $SANDBOX_KEY, else a random one)",
    )
    parser.add_argument(
        "--open",
        action="store_true",
        help="no key and no SMTP login, for a laptop that wants plain URLs (also $SANDBOX_OPEN=1)",
    )
    parser.add_argument(
        "--queue-name", type=checked_by(check_queue_name), help="queue name, to share a queue with other processes"
    )

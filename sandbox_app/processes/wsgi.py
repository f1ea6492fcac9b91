"""The app for a server in its own process: `gunicorn sandbox_app.processes.wsgi:app`, or
`python -m sandbox_app.processes.wsgi` (waitress).

Configured from $SANDBOX_APP_CONFIG (a JSON object the launcher passes); with MAIL_SERVER_API set,
the pages and /api show the launcher's debug mail server through its HTTP API.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys

from waitress.server import create_server

from ..smtp.loopback import LOOPBACK
from ..smtp.remote import RemoteMailServer
from ..web.factory import create_app
from .env import config_from_env, exit_with_parent

_config = config_from_env("MAIL_PORT", '{"MAIL_PORT": 8025}')
_api = _config.get("MAIL_SERVER_API")
app = create_app(_config, mail_server=RemoteMailServer(_api, _config.get("SANDBOX_KEY")) if _api else None)


def main() -> None:
    """Serve `app` with waitress on a listening socket the launcher passes by file descriptor."""
    parser = argparse.ArgumentParser(prog="python -m sandbox_app.processes.wsgi", description=main.__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--fd", type=int, help="the listening socket's file descriptor (Unix)")
    where.add_argument("--port", type=int, help="the loopback port to listen on (Windows)")
    parser.add_argument("--threads", type=int, default=4, help="worker threads")
    args = parser.parse_args()
    where = (
        {"sockets": [socket.socket(fileno=args.fd)]} if args.fd is not None else {"host": LOOPBACK, "port": args.port}
    )
    server = create_server(
        app, **where, threads=args.threads, ident="sandbox",
        clear_untrusted_proxy_headers=False,  # ProxyFix reads X-Forwarded-Prefix
        asyncore_use_poll=True,  # select() fails on a file descriptor past 1023
    )  # fmt: skip
    # SIGTERM as SystemExit: waitress's run() then lets the requests in progress finish.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    exit_with_parent(signal.SIGTERM)
    server.run()


if __name__ == "__main__":
    main()

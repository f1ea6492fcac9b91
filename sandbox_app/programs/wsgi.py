"""The app for a server in its own process: `gunicorn 'sandbox_app.programs.wsgi:build()'`, or
`python -m sandbox_app.programs.wsgi` (waitress).

Built from the settings its launcher passed in the environment (`processes.env.settings_env`); the pages
and /api show the launcher's debug mail server through the launcher's private channel.
"""

from __future__ import annotations

import argparse
import gc
import signal
import socket
import sys

from flask import Flask
from waitress.server import create_server

from ..processes.channel import LauncherClient
from ..processes.env import exit_with_parent
from ..smtp.loopback import LOOPBACK
from ..smtp.remote import RemoteMailServer
from ..web.factory import create_app
from .startup import child_settings

# How long a thread may hold the GIL while another waits for it (Python's default: 5 ms). waitress reads requests
# and writes responses on one I/O thread, which waits so behind its busy workers. The outbox sign-up at 20 clients
# (README): p99 under 100 ms in 2 of 6 runs at 5 ms, 13 of 14 at 1 ms; within 5x /ping's in 4 of 6, 14 of 14.
SWITCH_INTERVAL = 0.001


def build() -> Flask:
    """The app its launcher's settings describe (gunicorn calls this in each worker: nothing is built at import)."""
    settings = child_settings()
    mail_server = None
    if settings.debug_mail_server and settings.launcher_port:
        mail_server = RemoteMailServer(LauncherClient(settings.launcher_port, settings.launcher_authkey))
    app = create_app(settings, mail_server=mail_server)
    # What the app is built from lives as long as the process: left out of every garbage collection, it no longer
    # makes each full collection walk some 125,000 objects while every request waits (70 to 170 ms, measured).
    gc.freeze()
    return app


def main() -> None:
    """Serve the app with waitress on a listening socket the launcher passes by file descriptor."""
    parser = argparse.ArgumentParser(prog="python -m sandbox_app.programs.wsgi", description=main.__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--fd", type=int, help="the listening socket's file descriptor (Unix)")
    where.add_argument("--port", type=int, help="the loopback port to listen on (Windows)")
    parser.add_argument("--threads", type=int, default=4, help="worker threads")
    args = parser.parse_args()
    app = build()
    sys.setswitchinterval(SWITCH_INTERVAL)
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

"""`python -m quiz.service`: run the course service; `python -m quiz.service export DIR`: the answers as files."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit

from .storage import DATABASE, Store

try:
    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets

    from .app import MAX_BODY_BYTES, make_app
except ImportError as error:  # JupyterHub (with tornado) is in the hub's environment, maybe not in this one
    HTTPServer = bind_sockets = make_app = None
    MAX_BODY_BYTES, NOT_INSTALLED = 0, error

DATA_ENV = "QUIZ_SERVICE_DATA"
LOG_LEVEL_ENV = "QUIZ_SERVICE_LOG_LEVEL"
COOKIE_SECRET = "cookie_secret"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m quiz.service",
        description="The course service for JupyterHub: records learners' answers under their hub identity."
        " Started by the hub as a managed service, or beside it with the hub's variables set"
        " (JUPYTERHUB_API_URL, JUPYTERHUB_API_TOKEN, JUPYTERHUB_SERVICE_URL, JUPYTERHUB_SERVICE_PREFIX).",
        epilog="python -m quiz.service export OUT [--data DIR] writes one <learner>.jsonl per learner into OUT,"
        " which `python -m quiz report OUT` reads.",
    )
    parser.add_argument("--data", default=os.environ.get(DATA_ENV), help=f"the service's folder (default: ${DATA_ENV})")
    parser.add_argument("--ip", help="the address to listen on (default: JUPYTERHUB_SERVICE_URL's host)")
    parser.add_argument("--port", type=int, help="the port (default: JUPYTERHUB_SERVICE_URL's port)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the service until SIGTERM or SIGINT; 2 for a bad command line."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["export"]:
        return export_main(argv[1:])
    args = build_parser().parse_args(argv)
    if make_app is None:
        print(f"error: the course service runs where JupyterHub is installed (pip install jupyterhub): {NOT_INSTALLED}",
              file=sys.stderr)  # fmt: skip
        return 2
    if not args.data:
        print(f"error: name the service's folder with --data DIR or ${DATA_ENV}", file=sys.stderr)
        return 2
    # Warnings (refused requests, with their reason) by default: every answer logged would be 100 lines a second.
    logging.basicConfig(
        level=os.environ.get(LOG_LEVEL_ENV, "WARNING").upper(), format="%(asctime)s %(levelname)s %(message)s"
    )
    address = urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    ip = args.ip or address.hostname or "127.0.0.1"
    port = args.port if args.port is not None else address.port or 10101  # 0: any free port, printed
    try:
        asyncio.run(serve(Path(args.data), ip, port))
    except OSError as error:
        print(
            f"error: cannot serve on {ip}:{port} with data in {args.data}: {error.strerror or error}", file=sys.stderr
        )
        return 1
    return 0


async def serve(data: Path, ip: str, port: int) -> None:
    """Listen until a stop signal: the hub stops a managed service with SIGTERM."""
    store = Store(data)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/course/")
    app = make_app(store, prefix, cookie_secret=_cookie_secret(data))
    server = HTTPServer(app, max_body_size=MAX_BODY_BYTES, xheaders=True)
    sockets = bind_sockets(port, ip)
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    print(f"course service: listening on http://{ip}:{port}{prefix} with {store.count()} answers in {store.path}",
          flush=True)  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.stop()
    store.close()


def _cookie_secret(data: Path) -> bytes:
    """The browser login's signing key, kept in the service's folder so a restart keeps instructors logged in."""
    path = data / COOKIE_SECRET
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        secret = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secret.hex())
        return secret


def export_main(argv: list[str]) -> int:
    """Write the stored answers as <learner>.jsonl files; 2 when there is no database."""
    parser = argparse.ArgumentParser(prog="python -m quiz.service export",
                                     description="Write one <learner>.jsonl per learner, as the folder mode does.")  # fmt: skip
    parser.add_argument("out", metavar="OUT", help="the folder to write into (created if needed)")
    parser.add_argument("--data", default=os.environ.get(DATA_ENV), help=f"the service's folder (default: ${DATA_ENV})")
    args = parser.parse_args(argv)
    if not args.data or not (Path(args.data) / DATABASE).is_file():
        print(f"error: no course service database in {args.data or '(no --data given)'}", file=sys.stderr)
        return 2
    store = Store(args.data)
    try:
        written = store.export(args.out)
    except OSError as error:
        print(f"error: cannot write into {args.out}: {error.strerror or error}", file=sys.stderr)
        return 2
    finally:
        store.close()
    print(f"course service: wrote {len(written)} learners' answers into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

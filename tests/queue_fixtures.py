"""Fixtures for the queue tests: a real redis-server of the session's own."""

import pytest
import redis
from helpers import free_port, need_program, start_on_free_ports

from sandbox_app.processes.child import ChildProcess


class RedisServer(ChildProcess):
    """redis-server on a free loopback port, no persistence, its files in `folder`."""

    def __init__(self, binary: str, folder) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        command = [binary, "--bind", "127.0.0.1", "--port", self.port, "--save", "", "--appendonly", "no",
                   "--dir", folder]  # fmt: skip
        super().__init__(command, folder / f"redis-{self.port}.log", what="redis-server", startup_timeout=10)

    def is_ready(self) -> bool:
        """It answers PING."""
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False
        finally:
            client.close()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A redis-server of our own on a free loopback port (another on 6379 may be shared), stopped after the session.

    Skipped when redis-server is not installed, unless SANDBOX_REQUIRE_ALL=1 (as .ci/run sets) or the older
    SANDBOX_REQUIRE_REDIS makes that a failure.
    """
    how = "apt install redis-server (`make test` does, as root)"
    binary = need_program("redis-server", how, env="SANDBOX_REQUIRE_REDIS")
    folder = tmp_path_factory.mktemp("redis")
    # Another process may take the free port before redis-server binds it: then it says so, and we try another.
    with start_on_free_ports(lambda: RedisServer(binary, folder), "address already in use") as server:
        yield server.url

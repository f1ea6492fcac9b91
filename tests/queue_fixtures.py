"""Fixtures for the queue tests: a real redis-server of the session's own."""

import subprocess
import time

import pytest
import redis
from helpers import need_program

from sandbox_app.smtp.server import free_port


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A redis-server of our own on a free loopback port (another on 6379 may be shared), stopped after the session.

    Skipped when redis-server is not installed, unless SANDBOX_REQUIRE_ALL=1 (as .ci/run sets) or the older
    SANDBOX_REQUIRE_REDIS makes that a failure.
    """
    how = "apt install redis-server (`make test` does, as root)"
    binary = need_program("redis-server", how, env="SANDBOX_REQUIRE_REDIS")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on port {port}")
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        server.terminate()
        server.wait(10)

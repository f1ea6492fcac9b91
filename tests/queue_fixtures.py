"""Fixtures for the queue tests: a private state folder, a real redis-server, process checks."""

import os
import shutil
import subprocess
import time

import pytest
import redis

from conftest import eventually
from sandbox_app import runner
from sandbox_app.smtp.server import free_port


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    """A fresh per-test state folder (queue databases, logs), so tests never share a queue file."""
    folder = tmp_path / "state"
    monkeypatch.setenv("SANDBOX_STATE_DIR", str(folder))
    return folder


@pytest.fixture
def private_sandbox(state_dir):
    """A running sandbox with its own state folder; stopped (with its consumer) after the test."""
    runner.stop()
    sandbox = runner.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A redis-server of our own on a free loopback port (CI's on 6379 may be shared), stopped after the session.

    Skipped when redis-server is not installed, unless SANDBOX_REQUIRE_REDIS is set (as .ci/run does).
    """
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("SANDBOX_REQUIRE_REDIS"):
            pytest.fail("redis-server is not installed, and SANDBOX_REQUIRE_REDIS says the Redis tests must run")
        pytest.skip("redis-server is not installed (apt install redis-server)")
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


def process_exists(pid: int) -> bool:
    """Whether a process with this id is alive (on Linux a zombie, exited but not reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        if os.path.isdir("/proc"):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pid: int, timeout: float = 10.0) -> None:
    """Fail unless the process with this id has exited within `timeout` s."""
    eventually(lambda: not process_exists(pid), timeout=timeout)

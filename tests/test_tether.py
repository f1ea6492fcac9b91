"""Processes the sandbox starts die with the process that started them, however it ends (a SIGKILLed kernel too)."""

import signal
import subprocess
import sys
import textwrap

import psutil
import pytest
from helpers import missing

from sandbox_app.queues.redis_server import redis_binary

# A parent that starts a Redis of its own, says the Redis's pid, then waits to be killed.
PARENT = textwrap.dedent(
    """
    import sys, time
    from sandbox_app.queues.redis_server import start_redis
    server = start_redis()
    redis = [p for p in server.processes() if "redis-server" in p.name()]
    print(redis[0].pid, flush=True)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("ending", [signal.SIGKILL, signal.SIGTERM])
def test_a_redis_dies_with_the_process_that_started_it(ending, state_dir):
    if redis_binary() is None:
        missing("redis-server", "the Redis tether test")
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        redis = psutil.Process(int(parent.stdout.readline()))
        assert "redis-server" in " ".join(redis.cmdline())
        parent.send_signal(ending)  # SIGTERM ends Python at once too: no stop() of ours runs
        parent.wait(10)
        gone, alive = psutil.wait_procs([redis], timeout=5)
        assert not alive, f"redis-server {redis.pid} outlived its parent ({ending.name})"
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()

"""Pytest plugin: the run fails if any process the suite started is still alive at its end (a Redis, a worker, a server).

Every process the tests start inherits SANDBOX_TEST_RUN, a token of this run, through its environment (a
kernel, a sandbox's Redis and workers, the servers of a lesson): at the end of the session, any process of this
user still holding the token, other than pytest's own, is a leak. It is listed, killed, and the run fails.
"""

from __future__ import annotations

import os
import secrets
from contextlib import suppress

import psutil
import pytest

TOKEN_VARIABLE = "SANDBOX_TEST_RUN"
XDIST_WORKER = "exec(eval(sys.stdin.readline()))"  # how execnet starts pytest-xdist's workers
# multiprocessing's forkserver and resource tracker, started by a test in pytest's own process: they end with it
PYTEST_HELPERS = ("from multiprocessing.forkserver import main", "from multiprocessing.resource_tracker import main")
GRACE = 5.0  # seconds a process stopping on its own (a worker that saw its parent go) gets before it counts


def is_controller(config) -> bool:
    """Whether this is the process that runs the session (not one of pytest-xdist's workers)."""
    return not hasattr(config, "workerinput")


def pytest_configure(config):
    if is_controller(config):
        os.environ[TOKEN_VARIABLE] = secrets.token_hex(8)


def started_by_this_run(token: str) -> list[psutil.Process]:
    """This user's processes that carry the run's token, but for pytest itself and its xdist workers."""
    found = []
    for process in psutil.process_iter():
        with suppress(psutil.Error):
            if process.pid == os.getpid() or process.status() == psutil.STATUS_ZOMBIE:
                continue
            command = " ".join(process.cmdline())
            if XDIST_WORKER in command:
                continue
            if process.ppid() == os.getpid() and any(helper in command for helper in PYTEST_HELPERS):
                continue
            if process.environ().get(TOKEN_VARIABLE) == token:
                found.append(process)
    return found


@pytest.hookimpl(trylast=True)  # after pytest-xdist has ended its workers
def pytest_sessionfinish(session, exitstatus):
    if not is_controller(session.config) or TOKEN_VARIABLE not in os.environ:
        return
    left = started_by_this_run(os.environ[TOKEN_VARIABLE])
    _gone, alive = psutil.wait_procs(left, timeout=GRACE)
    if not alive:
        return
    lines = []
    for process in alive:
        with suppress(psutil.Error):
            lines.append(f"  pid {process.pid}: {' '.join(process.cmdline())[:200]}")
            process.kill()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = f"{len(alive)} process(es) started by the tests were still running at the end (killed now):"
    if reporter is not None:
        reporter.write_sep("=", "processes left behind", red=True)
        reporter.write_line(message)
        for line in lines:
            reporter.write_line(line)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED

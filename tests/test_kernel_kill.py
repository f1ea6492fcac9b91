"""A kernel that started lesson 14's Redis and workers takes them with it, killed (SIGKILL) or shut down gracefully."""

from __future__ import annotations

import os
import signal
from contextlib import suppress
from pathlib import Path

import jupytext
import psutil
import pytest
from helpers import eventually, named
from queue_fixtures import need_redis

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "14-celery-and-rq.md"
# How long after the kernel is gone nothing it started may still run (the target).
GONE_WITHIN = 5.0
# The app in a process of its own: a kernel that started it must take it down too.
OWN_PROCESS_APP = "import sandbox_app\nsandbox = sandbox_app.start(server='waitress', smtp_delay=0.1)"
RQ_TOO = "rq_workers = sandbox.start_worker('rq')"


def first_code_cell(lesson: Path) -> str:
    """The lesson's first code cell, as a learner runs it: it starts the sandbox, Redis and Celery's worker."""
    notebook = jupytext.read(lesson)
    return next(cell.source for cell in notebook.cells if cell.cell_type == "code")


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """The processes of the list still running (a zombie has ended)."""
    running = []
    for process in processes:
        with suppress(psutil.NoSuchProcess):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
    return running


def describe(processes: list[psutil.Process]) -> list[str]:
    """Each process as 'pid command', for a failure's message."""
    described = []
    for process in processes:
        with suppress(psutil.NoSuchProcess):
            described.append(f"{process.pid} {' '.join(process.cmdline())[:100]}")
    return described


@pytest.fixture
def kernel(tmp_path, state_dir):
    """A Python kernel (jupyter_client) in the test's folders, and its client; shut down after the test."""
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(tmp_path))  # its environment is this process's: the test's state folder
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield manager, client
    finally:
        client.stop_channels()
        if manager.is_alive():
            manager.shutdown_kernel(now=True)
        manager.cleanup_resources()


def run(client, code: str) -> str:
    """Run `code` in the kernel; what it printed (the cell must succeed)."""
    printed = []

    def keep(message) -> None:
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])

    reply = client.execute_interactive(code, output_hook=keep, timeout=120)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(printed)


@pytest.mark.slow  # a kernel, Redis and worker processes
@pytest.mark.parametrize(
    ("start", "end"),
    [("lesson", "sigkill"), ("lesson", "shutdown"), ("own-process app", "sigkill")],
    ids=["lesson-14-sigkill", "lesson-14-graceful-shutdown", "waitress-app-sigkill"],
)
def test_what_a_kernel_started_dies_with_it(kernel, start, end):
    need_redis()
    manager, client = kernel
    code = first_code_cell(LESSON) if start == "lesson" else OWN_PROCESS_APP
    run(client, f"{code}\n{RQ_TOO}\nimport os\nprint(os.getpid())")
    kernel_pid = int(run(client, "print(os.getpid())").strip())
    started = psutil.Process(kernel_pid).children(recursive=True)
    # The test can fail: Redis and both queues' workers (and the app, in its own process) run, started by the kernel.
    assert named(started, "redis-server"), describe(started)
    assert named(started, "celery") or start != "lesson", describe(started)
    assert len(named(started, "sandbox_app.programs.rq_worker")) >= 1, describe(started)
    if start != "lesson":
        assert named(started, "sandbox_app.programs.wsgi"), describe(started)
    try:
        if end == "sigkill":  # as nbval ends a kernel, and an out-of-memory killer
            os.kill(kernel_pid, signal.SIGKILL)
        else:  # JupyterLab's "Shut Down Kernel" and "Restart Kernel"
            manager.shutdown_kernel(now=False)
        eventually(lambda: not manager.is_alive(), timeout=30)
        gone, left = psutil.wait_procs(started, timeout=GONE_WITHIN)
        assert not alive(left), f"alive {GONE_WITHIN} s after the kernel: {describe(alive(left))}"
    finally:  # whatever outlived the kernel (the bug under test) must not outlive the test
        for process in alive(started):
            with suppress(psutil.NoSuchProcess):
                process.kill()

"""Threads, processes, ports and listening sockets, checked from outside; servers started on free ports."""

from __future__ import annotations

import errno
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psutil

from sandbox_app.processes.child import ChildProcess
from sandbox_app.processes.ports import PORT_ATTEMPTS, free_port
from sandbox_app.smtp.loopback import LOOPBACK
from sandbox_app.waiting import wait_until

# Threads a library starts once per process and keeps on purpose: tqdm's monitor of its progress bars.
PROCESS_WIDE_THREADS = {"tqdm_monitor"}
Started = TypeVar("Started")


def eventually(condition, timeout: float = 5.0, interval: float = 0.01):
    """Poll `condition` until it returns something truthy and return it; fail the test after `timeout` s."""
    try:
        return wait_until(condition, timeout, "the condition", interval)
    except TimeoutError:
        raise AssertionError(f"condition still false after {timeout} s") from None


def started_since(before) -> list[str]:
    """The names of the threads alive now that were not in `before` (a `set(threading.enumerate())`).

    Threads that ended meanwhile, and the process-wide ones of libraries, never count.
    """
    now = threading.enumerate()
    return sorted(t.name for t in now if t not in before and t.name not in PROCESS_WIDE_THREADS)


def process_exists(pid: int) -> bool:
    """Whether a process with this id is alive (a zombie, exited but not reaped, counts as gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


TETHER = "sandbox_app.processes.tether"


def named(processes, *words: str) -> list[psutil.Process]:
    """The processes whose command line mentions one of `words`, in their order; those gone meanwhile left out.

    A process that ended (an RQ work horse not reaped yet is a zombie, with no command line) runs nothing, and a
    tether (sandbox_app/processes/tether.py) is not the program it names: that runs as its child.
    """
    found = []
    for process in processes:
        with suppress(psutil.NoSuchProcess):
            command = process.cmdline()
            if TETHER in command:
                continue
            if any(word in part for part in command for word in words):
                found.append(process)
    return found


def wait_gone(pid: int, timeout: float = 10.0) -> None:
    """Fail unless the process with this id has exited within `timeout` s."""
    eventually(lambda: not process_exists(pid), timeout=timeout)


def listening_ports(pid: int = os.getpid()) -> set[int]:
    """The ports this process (and its children) listen on: what is ours, whoever else binds a port meanwhile."""
    return {port for _host, port in listening_addresses(pid)}


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections while the block runs: bound by this socket, never listening.

    A port found free and closed may be bound by anyone a moment later; one held cannot.
    """
    with socket.socket() as held:
        held.bind((LOOPBACK, 0))
        yield held.getsockname()[1]


def started_on_a_free_port(start: Callable[[int], Started], attempts: int = PORT_ATTEMPTS) -> Started:
    """start(port) on a loopback port free now; again on another when a process bound that one first.

    For servers a test starts in its own process on a port it names; `start_on_free_port` does the same
    for child processes.
    """
    for _attempt in range(attempts):
        try:
            return start(free_port())
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
    raise OSError(errno.EADDRINUSE, f"no free port held still in {attempts} attempts")


def listening_addresses(*pids: int) -> set[tuple[str, int]]:
    """(address, port) of every socket these processes and their descendants listen on (TCP)."""
    found = set()
    for pid in pids:
        root = psutil.Process(pid)
        for process in (root, *root.children(recursive=True)):
            try:
                connections = process.net_connections(kind="tcp")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            found |= {(c.laddr.ip, c.laddr.port) for c in connections if c.status == psutil.CONN_LISTEN}
    return found


@dataclass
class Finished:
    """A program run to its end: its exit code and what it wrote to stdout and to stderr."""

    returncode: int
    stdout: str
    stderr: str


def run_program(command: list, folder: Path, *, timeout: float, env: dict | None = None, cwd=None) -> Finished:
    """Run `command` to its end through the one child-process lifecycle, its output kept in `folder`.

    Unlike `subprocess.run(timeout=...)`, which kills only the direct child, a timeout stops the whole tree it
    started (ChildError, with what it wrote).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    child = ChildProcess(command, folder / "stdout.log", stderr_path=folder / "stderr.log", env=env, cwd=cwd,
                         what=" ".join(str(part) for part in command[:4]))  # fmt: skip
    returncode = child.run(timeout)
    return Finished(returncode, child.read_log(), child.read_stderr())

"""Threads, processes, ports and listening sockets, checked from outside; servers started on free ports."""

from __future__ import annotations

import socket
import threading
from contextlib import suppress

import psutil

from sandbox_app.smtp.loopback import LOOPBACK
from sandbox_app.waiting import wait_until

# Threads a library starts once per process and keeps on purpose: tqdm's monitor of its progress bars.
PROCESS_WIDE_THREADS = {"tqdm_monitor"}


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


def port_is_free(port: int) -> bool:
    """Whether this port can be bound on loopback right now."""
    try:
        with socket.create_server((LOOPBACK, port)):
            return True
    except OSError:
        return False


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

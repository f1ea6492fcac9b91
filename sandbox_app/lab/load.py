"""Load while measuring: clients sending back to back in the background, and the CPU a request costs."""

from __future__ import annotations

import importlib
import math
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from ..addresses import auth_headers
from ..examples import DEFAULT_EMAIL
from ..processes.clients import in_a_client_process
from ..waiting import wait_until
from . import timing
from .sandbox import wait_until_settled
from .timing import Samples, route_url, run_clients, timed_request

# getrusage counts the context switches of all the process's threads (psutil's count is the main thread's only);
# Windows has no `resource` module, and there the switches are not counted (nan).
resource = importlib.import_module("resource") if os.name == "posix" else None


@contextmanager
def background_load(
    target,
    path: str,
    clients: int = 8,
    *,
    json: dict | None = None,
    label: str | None = None,
    outside: bool | None = None,
) -> Iterator[Samples]:
    """While the block runs, `clients` clients request `path` back to back; yields their samples (complete after).

    The block starts once every client has had one answer, so it runs under steady load. The clients
    run in a process of their own (`outside`) by default whenever the app runs in its own process(es).
    """
    url, headers = route_url(target, path), auth_headers(target)
    method = "POST" if json is not None else "GET"
    result = Samples(label or f"{path.strip('/')} load")
    if outside is None:
        outside = not getattr(target, "in_process", True)
    args = (url, method, json, headers, clients)
    in_a_process = in_a_client_process(run_clients, *args, preload=timing.__name__, name="load-clients")
    with in_a_process if outside else _clients_in_threads(*args) as (stop, steady, collect):
        try:
            wait_until(steady, 30, "the load to reach every client")
            yield result
        finally:
            stop()
        result.samples.extend(collect())


@contextmanager
def _clients_in_threads(*args):
    """run_clients in a thread of this process: (stop, steady, collect) functions."""
    stop, steady = threading.Event(), threading.Event()
    with ThreadPoolExecutor(1, thread_name_prefix="load") as pool:
        running = pool.submit(run_clients, *args, stop, steady)
        yield stop.set, lambda: steady.is_set() or running.done(), running.result


def background_sends(
    target, pattern: str, clients: int = 8, *, email: dict | None = None, outside: bool | None = None
) -> Iterator[Samples]:
    """`background_load` sending with one pattern (POST /send/<pattern>), labelled with the pattern."""
    return background_load(
        target, f"send/{pattern}", clients, json=email or DEFAULT_EMAIL, label=pattern, outside=outside
    )


def context_switches() -> float:
    """Context switches of this process so far, all threads counted (nan where the system does not say)."""
    if resource is None:
        return math.nan
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw + usage.ru_nivcsw


@dataclass
class CpuCost:
    """CPU time this process spent on `n` requests, background sends included, and its context switches."""

    label: str
    n: int
    cpu_seconds: float
    wall_seconds: float
    context_switches: float = math.nan

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per request."""
        return self.cpu_seconds * 1000 / self.n

    @property
    def switches(self) -> float:
        """Context switches per request: each time the system took a thread off the CPU and gave it another."""
        return self.context_switches / self.n

    def __str__(self) -> str:
        switches = "" if math.isnan(self.switches) else f", {self.switches:.0f} context switches"
        return f"{self.label}: {self.cpu_ms:.2f} ms of CPU per request{switches} ({self.n} requests)"


def cpu_per_request(
    sandbox, path: str = "ping", n: int = 50, *, json: dict | None = None, label: str | None = None
) -> CpuCost:
    """CPU per request when client, app and mail server all run in this process (a started Sandbox).

    Background sends are waited for, so their CPU counts too: moving work to a thread does not remove it.
    """
    url, headers = route_url(sandbox, path), auth_headers(sandbox)
    method = "POST" if json is not None else "GET"
    for _ in range(3):  # warm-up, not counted
        timed_request(url, method, json, headers=headers)
    wait_until_settled(sandbox)
    cpu, wall, switches = time.process_time(), time.perf_counter(), context_switches()
    for _ in range(n):
        timed_request(url, method, json, headers=headers)
    if not wait_until_settled(sandbox):
        raise TimeoutError("background sends did not finish within 10 s")
    cpu, wall, switches = time.process_time() - cpu, time.perf_counter() - wall, context_switches() - switches
    return CpuCost(label or path.strip("/"), n, cpu, wall, switches)

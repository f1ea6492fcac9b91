"""Load while measuring: clients sending back to back in the background, and the CPU a request costs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from ..waiting import wait_until
from .sandbox import wait_until_settled
from .timing import DEFAULT_EMAIL, Samples, route_url, timed_request


@contextmanager
def background_load(
    target, path: str, clients: int = 8, *, json: dict | None = None, label: str | None = None
) -> Iterator[Samples]:
    """While the block runs, `clients` clients request `path` back to back; yields their samples.

    The block starts once every client has had one answer, so it runs under steady load.
    """
    url = route_url(target, path)
    method = "POST" if json is not None else "GET"
    result = Samples(label or f"{path.strip('/')} load")
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            result.samples.append(timed_request(url, method, json))  # list.append is atomic

    with ThreadPoolExecutor(clients, thread_name_prefix="load-client") as pool:
        futures = [pool.submit(client) for _ in range(clients)]
        try:
            wait_until(lambda: len(result.samples) >= clients or any(f.done() for f in futures), 30, "the load")
            yield result
        finally:
            stop.set()
    for future in futures:
        future.result()  # a client's error, raised here in the caller's thread


def background_sends(target, pattern: str, clients: int = 8, *, email: dict | None = None) -> Iterator[Samples]:
    """`background_load` sending with one pattern (POST /send/<pattern>), labelled with the pattern."""
    return background_load(target, f"send/{pattern}", clients, json=email or DEFAULT_EMAIL, label=pattern)


@dataclass
class CpuCost:
    """CPU time this process spent on `n` requests, background sends included."""

    label: str
    n: int
    cpu_seconds: float
    wall_seconds: float

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per request."""
        return self.cpu_seconds * 1000 / self.n

    def __str__(self) -> str:
        return f"{self.label}: {self.cpu_ms:.2f} ms of CPU per request ({self.n} requests)"


def cpu_per_request(
    sandbox, path: str = "ping", n: int = 50, *, json: dict | None = None, label: str | None = None
) -> CpuCost:
    """CPU per request when client, app and mail server all run in this process (a started Sandbox).

    Background sends are waited for, so their CPU counts too: moving work to a thread does not remove it.
    """
    url = route_url(sandbox, path)
    method = "POST" if json is not None else "GET"
    for _ in range(3):  # warm-up, not counted
        timed_request(url, method, json)
    wait_until_settled(sandbox)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        timed_request(url, method, json)
    if not wait_until_settled(sandbox):
        raise TimeoutError("background sends did not finish within 10 s")
    return CpuCost(label or path.strip("/"), n, time.process_time() - cpu, time.perf_counter() - wall)

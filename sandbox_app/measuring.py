"""Time requests: n requests to a route -> latency samples with percentiles in ms, alone or under background load.

This module is what a client process imports (see measure_outside and background_load), and so it lives
outside the lab: it imports the sandbox, the app and the progress bars only where it uses them, so that a
client process starts light (5 MB, not 55).
"""

from __future__ import annotations

import http.client
import json as jsonlib
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from statistics import quantiles
from typing import Protocol
from urllib.parse import urlsplit

from .addresses import auth_headers
from .examples import DEFAULT_EMAIL
from .processes.clients import client_pool, in_a_client_process
from .waiting import wait_until


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated as numpy's default ("inclusive" in `statistics`)."""
    if not values:
        raise ValueError("no samples")
    if len(values) == 1 or q <= 0:
        return min(values)
    if q >= 100:
        return max(values)
    # 1,000 cut points give every tenth of a percentile; "inclusive" interpolates between samples.
    return quantiles(values, n=1000, method="inclusive")[round(q * 10) - 1]


@dataclass
class Sample:
    """One timed request: when it started (epoch seconds), how long it took, its status, the server's own account."""

    started_at: float
    seconds: float
    status: int
    # The Server-Timing header, e.g. {"smtp": 0.0, "app": 0.4}; empty for a response without one.
    server_ms: dict[str, float] = field(default_factory=dict)
    # The process of the client that sent it: whether the clients shared the app's process shows in the samples.
    client_pid: int = field(default_factory=os.getpid)


def parse_server_timing(header: str | None) -> dict[str, float]:
    """A Server-Timing header as {name: ms}: 'smtp;dur=301.2;desc="...", app;dur=1.1' -> {'smtp': 301.2, 'app': 1.1}."""
    timings = {}
    for entry in (header or "").split(","):
        name, *params = (part.strip() for part in entry.split(";"))
        durations = [float(p[4:]) for p in params if p.startswith("dur=")]
        if name and durations:
            timings[name] = durations[0]
    return timings


@dataclass
class Samples:
    """The timed requests of one measurement, with summary figures in milliseconds."""

    label: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def ms(self) -> list[float]:
        """Every response time in milliseconds, in the order the requests started."""
        return [s.seconds * 1000 for s in sorted(self.samples, key=lambda s: s.started_at)]

    @property
    def n(self) -> int:
        """How many requests were timed."""
        return len(self.samples)

    @property
    def span_seconds(self) -> float:
        """Seconds from the first request's start to the last response's end (what req/s divides by)."""
        return max(s.started_at + s.seconds for s in self.samples) - min(s.started_at for s in self.samples)

    @property
    def statuses(self) -> Counter:
        """How many responses had each HTTP status."""
        return Counter(s.status for s in self.samples)

    def split_ms(self) -> dict[str, list[float]]:
        """Each timed response cut in three by its Server-Timing header (responses without one left out), in ms.

        `smtp`: the view waited for the mail server; `view`: the rest of the view's own work; `outside`: the
        time the client saw beyond the view: connecting, waiting for a free worker (and for the GIL), the
        HTTP server reading the request and writing the answer.
        """
        parts: dict[str, list[float]] = {"smtp": [], "view": [], "outside": []}
        for s in self.samples:
            if "app" not in s.server_ms:
                continue
            smtp, view = s.server_ms.get("smtp", 0.0), s.server_ms["app"]
            parts["smtp"].append(smtp)
            parts["view"].append(view)
            parts["outside"].append(max(s.seconds * 1000 - smtp - view, 0.0))
        return parts

    def pct(self, q: float) -> float:
        """The q-th percentile response time in ms."""
        return percentile(self.ms, q)

    @property
    def min_ms(self) -> float:
        """The fastest response, in ms."""
        return min(self.ms)

    @property
    def p50_ms(self) -> float:
        """The median response, in ms."""
        return self.pct(50)

    @property
    def p95_ms(self) -> float:
        """The 95th percentile, in ms."""
        return self.pct(95)

    @property
    def p99_ms(self) -> float:
        """The 99th percentile, in ms."""
        return self.pct(99)

    @property
    def max_ms(self) -> float:
        """The slowest response, in ms."""
        return max(self.ms)

    def summary(self) -> dict:
        """n, min, p50, p95, max (ms, rounded to 0.01) and the status counts."""
        figures = {"min_ms": self.min_ms, "p50_ms": self.p50_ms, "p95_ms": self.p95_ms, "max_ms": self.max_ms}
        return {
            "label": self.label,
            "n": self.n,
            **{key: round(value, 2) for key, value in figures.items()},
            "statuses": dict(self.statuses),
        }

    def __str__(self) -> str:
        return (
            f"{self.label}: n={self.n}  min {self.min_ms:.1f}  p50 {self.p50_ms:.1f}  "
            f"p95 {self.p95_ms:.1f}  max {self.max_ms:.1f} ms"
        )


class Served(Protocol):
    """Anything that answers HTTP at a `url`: a Sandbox, a web process, an Endpoint (and may carry a `key`)."""

    @property
    def url(self) -> str: ...


@dataclass(frozen=True)
class Endpoint:
    """Where requests go and the headers they carry: what a client process is given instead of the sandbox."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)

    def route(self, path: str) -> str:
        """The full URL of `path`."""
        return route_url(self.url, path)


def endpoint(target: Served | str) -> Endpoint:
    """The endpoint of a sandbox (or anything with a `.url` and a `.key`, as a web process), an Endpoint or a URL."""
    if isinstance(target, Endpoint):
        return target
    return Endpoint(base_url(target), auth_headers(target))


def base_url(target: Served | str) -> str:
    """The base URL of a Sandbox (its .url), a web process or a URL string; a stopped Sandbox says so."""
    if not getattr(target, "running", True):
        from .sandbox import SandboxNotRunning  # a Sandbox's own module: loaded wherever one runs

        raise SandboxNotRunning()  # instead of a wall of "connection refused"
    return target if isinstance(target, str) else target.url


def route_url(target: Served | str, path: str) -> str:
    """The full URL of `path` on a Sandbox, a web process, an Endpoint or a base URL."""
    return base_url(target).rstrip("/") + "/" + path.lstrip("/")


@dataclass
class Exchange:
    """One timed request and what came back: the sample, the response headers and the body."""

    sample: Sample
    headers: dict[str, str]
    body: bytes


def timed_exchange(
    url: str, method: str = "GET", json: dict | None = None, timeout: float = 30.0, headers: dict | None = None
) -> Exchange:
    """Send one request on a fresh connection; time it until the whole response is read."""
    parts = urlsplit(url)
    body = jsonlib.dumps(json).encode() if json is not None else None
    headers = {**(headers or {}), **({"Content-Type": "application/json"} if body is not None else {})}
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    started_at, started = time.time(), time.perf_counter()
    try:
        target = parts.path or "/"
        connection.request(method, f"{target}?{parts.query}" if parts.query else target, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read()
    finally:
        connection.close()
    timing = parse_server_timing(response.getheader("Server-Timing"))
    sample = Sample(started_at, time.perf_counter() - started, response.status, timing)
    return Exchange(sample, dict(response.getheaders()), content)


def timed_request(
    url: str, method: str = "GET", json: dict | None = None, timeout: float = 30.0, headers: dict | None = None
) -> Sample:
    """Send one request on a fresh connection; time it until the whole response is read."""
    return timed_exchange(url, method, json, timeout, headers).sample


def measure(
    target: Served | str,
    path: str = "ping",
    n: int = 30,
    *,
    json: dict | None = None,
    bodies: list[dict] | None = None,
    warmup: int = 3,
    concurrency: int = 1,
    outside: bool | None = None,
    label: str | None = None,
    progress: bool = False,
) -> Samples:
    """Time `n` requests to `path` (after `warmup` untimed ones), `concurrency` clients at once; POST when `json`.

    `bodies` POSTs one body per timed request instead (`n` of them, no warm-up): a new address for each sign-up.
    `outside=True` runs the clients in a process of their own, as real users are: by default whenever
    the app runs in its own process(es), so that the clients never share the app's CPU or GIL.
    """
    if bodies is not None and (len(bodies) != n or warmup):
        raise ValueError(f"give one body per timed request ({n}, got {len(bodies)}) and no warm-up")
    if outside is None:
        outside = not getattr(target, "in_process", True)
    where, label = endpoint(target), label or path.strip("/")
    if outside:
        options = {"json": json, "bodies": bodies, "warmup": warmup, "concurrency": concurrency, "label": label}
        return measure_outside(where, path, n, **options)
    url, method = where.route(path), "GET" if json is None and bodies is None else "POST"
    for _ in range(warmup):
        timed_request(url, method, json, headers=where.headers)
    # Each of `concurrency` threads sends its next request as soon as the last one is answered.
    with ThreadPoolExecutor(concurrency, thread_name_prefix="measure-client") as pool:
        each = bodies if bodies is not None else [json] * n
        samples = pool.map(lambda body: timed_request(url, method, body, headers=where.headers), each)
        if progress:  # a bar only when asked: tqdm starts a monitor thread that outlives the measurement
            samples = progress_bar(samples, total=n, desc=label)
        samples = list(samples)
    return Samples(label, list(samples))


def progress_bar(iterable, **options):
    """tqdm's bar: a notebook's widget, kept in the cell when done; a terminal's line, cleared for what comes next."""
    from tqdm.auto import tqdm as auto_tqdm  # imports ipywidgets: only where a bar is shown
    from tqdm.notebook import tqdm as notebook_tqdm

    return auto_tqdm(iterable, leave=issubclass(auto_tqdm, notebook_tqdm), **options)


def run_clients(url, method, json, headers, clients: int, stop, steady=None) -> list[Sample]:
    """`clients` threads requesting `url` back to back until `stop` is set; `steady` is set once each had an answer."""
    samples: list[Sample] = []

    def client() -> None:
        while not stop.is_set():
            samples.append(timed_request(url, method, json, headers=headers))  # list.append is atomic
            if steady is not None and len(samples) >= clients:
                steady.set()

    with ThreadPoolExecutor(clients, thread_name_prefix="load-client") as pool:
        futures = [pool.submit(client) for _ in range(clients)]
    for future in futures:
        future.result()  # a client's error, raised here
    return samples


def measure_outside(where: Endpoint, path: str, n: int, **options) -> Samples:
    """`measure` with its clients in a new process of their own; the same Samples come back."""
    with client_pool(preload=__name__) as pool:
        return pool.submit(measure, where, path, n, outside=False, **options).result()


def measure_send(target: Served | str, pattern: str, n: int = 30, *, email: dict | None = None,
                 **options) -> Samples:  # fmt: skip
    """Time `n` sends with one pattern (POST /send/<pattern>), labelled with the pattern; `measure`'s options."""
    options.setdefault("label", pattern)
    return measure(target, f"send/{pattern}", n, json=email or DEFAULT_EMAIL, **options)


@contextmanager
def background_load(
    target: Served | str,
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
    where = endpoint(target)
    method = "POST" if json is not None else "GET"
    result = Samples(label or f"{path.strip('/')} load")
    if outside is None:
        outside = not getattr(target, "in_process", True)
    args = (where.route(path), method, json, where.headers, clients)
    in_a_process = in_a_client_process(run_clients, *args, preload=__name__, name="load-clients")
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
    target: Served | str, pattern: str, clients: int = 8, *, email: dict | None = None,
    outside: bool | None = None,
) -> Iterator[Samples]:  # fmt: skip
    """`background_load` sending with one pattern (POST /send/<pattern>), labelled with the pattern."""
    return background_load(
        target, f"send/{pattern}", clients, json=email or DEFAULT_EMAIL, label=pattern, outside=outside
    )

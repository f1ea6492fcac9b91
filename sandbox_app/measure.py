"""Measure response times: n requests to a route -> latency samples with a summary."""

from __future__ import annotations

import http.client
import json as jsonlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tqdm.auto import tqdm

DEFAULT_EMAIL = {"to": "learner@example.com", "subject": "Timing test", "body": "Sent while measuring."}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation, as numpy's default."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no samples")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Sample:
    """One timed request: when it started (epoch seconds), how long it took, its status."""

    started_at: float
    seconds: float
    status: int


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
    def statuses(self) -> Counter:
        """How many responses had each HTTP status."""
        return Counter(s.status for s in self.samples)

    def pct(self, q: float) -> float:
        """The q-th percentile response time in ms."""
        return percentile(self.ms, q)

    @property
    def min_ms(self) -> float:
        return min(self.ms)

    @property
    def p50_ms(self) -> float:
        return self.pct(50)

    @property
    def p95_ms(self) -> float:
        return self.pct(95)

    @property
    def p99_ms(self) -> float:
        return self.pct(99)

    @property
    def max_ms(self) -> float:
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


def base_url(target) -> str:
    """The base URL of a Sandbox (its .url) or of a URL string."""
    return getattr(target, "url", target)


def timed_request(url: str, method: str = "GET", json: dict | None = None, timeout: float = 30.0) -> Sample:
    """Send one request on a fresh connection; time it until the whole response is read."""
    parts = urlsplit(url)
    body = jsonlib.dumps(json).encode() if json is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    started_at, started = time.time(), time.perf_counter()
    try:
        connection.request(method, parts.path or "/", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    return Sample(started_at, time.perf_counter() - started, response.status)


def measure(
    target,
    path: str = "ping",
    n: int = 30,
    *,
    method: str | None = None,
    json: dict | None = None,
    warmup: int = 3,
    concurrency: int = 1,
    label: str | None = None,
    progress: bool = False,
) -> Samples:
    """Time `n` requests to `path` (after `warmup` untimed ones), `concurrency` clients at once."""
    url = base_url(target).rstrip("/") + "/" + path.lstrip("/")
    method = method or ("POST" if json is not None else "GET")
    for _ in range(warmup):
        timed_request(url, method, json)
    result = Samples(label or path.strip("/"))
    remaining = iter(range(n))
    lock = threading.Lock()
    # tqdm starts a monitor thread: only make a bar when one is wanted.
    bar = tqdm(total=n, desc=result.label, leave=False) if progress else None
    errors: list[BaseException] = []

    def client() -> None:
        while not errors:
            with lock:
                if next(remaining, None) is None:
                    return
            try:
                sample = timed_request(url, method, json)
            except BaseException as error:  # re-raised below, in the caller's thread
                errors.append(error)
                return
            with lock:
                result.samples.append(sample)
                if bar is not None:
                    bar.update()

    clients = [threading.Thread(target=client, name=f"measure-client-{i}") for i in range(concurrency)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    if bar is not None:
        bar.close()
    if errors:
        raise errors[0]
    return result


def measure_send(target, pattern: str, n: int = 30, *, email: dict | None = None, **options) -> Samples:
    """Time `n` sends with one pattern (POST /send/<pattern>), labelled with the pattern."""
    options.setdefault("label", pattern)
    return measure(target, f"send/{pattern}", n, json=email or DEFAULT_EMAIL, **options)

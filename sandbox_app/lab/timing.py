"""Time requests: n requests to a route -> latency samples with percentiles in milliseconds."""

from __future__ import annotations

import http.client
import json as jsonlib
import time
from collections import Counter
from dataclasses import dataclass, field
from statistics import quantiles
from urllib.parse import urlsplit

from tqdm.auto import tqdm as auto_tqdm  # the notebook's bar in a notebook, the terminal's elsewhere
from tqdm.contrib.concurrent import thread_map
from tqdm.notebook import tqdm as notebook_tqdm

from ..runner import SandboxNotRunning

# A finished bar stays in a notebook cell (and is saved with the notebook); a terminal's is
# cleared, so that the table printed next stands alone.
KEEP_FINISHED_BAR = issubclass(auto_tqdm, notebook_tqdm)

DEFAULT_EMAIL = {"to": "learner@example.com", "subject": "Timing test", "body": "Sent while measuring."}


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


def base_url(target) -> str:
    """The base URL of a Sandbox (its .url) or of a URL string; a stopped Sandbox says so."""
    if not getattr(target, "running", True):
        raise SandboxNotRunning()  # instead of a wall of "connection refused"
    return getattr(target, "url", target)


def route_url(target, path: str) -> str:
    """The full URL of `path` on a Sandbox or base URL."""
    return base_url(target).rstrip("/") + "/" + path.lstrip("/")


@dataclass
class Exchange:
    """One timed request and what came back: the sample, the response headers and the body."""

    sample: Sample
    headers: dict[str, str]
    body: bytes


def timed_exchange(url: str, method: str = "GET", json: dict | None = None, timeout: float = 30.0) -> Exchange:
    """Send one request on a fresh connection; time it until the whole response is read."""
    parts = urlsplit(url)
    body = jsonlib.dumps(json).encode() if json is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    started_at, started = time.time(), time.perf_counter()
    try:
        connection.request(method, parts.path or "/", body=body, headers=headers)
        response = connection.getresponse()
        content = response.read()
    finally:
        connection.close()
    sample = Sample(started_at, time.perf_counter() - started, response.status)
    return Exchange(sample, dict(response.getheaders()), content)


def timed_request(url: str, method: str = "GET", json: dict | None = None, timeout: float = 30.0) -> Sample:
    """Send one request on a fresh connection; time it until the whole response is read."""
    return timed_exchange(url, method, json, timeout).sample


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
    url = route_url(target, path)
    method = method or ("POST" if json is not None else "GET")
    for _ in range(warmup):
        timed_request(url, method, json)
    label = label or path.strip("/")
    # Each of `concurrency` threads sends its next request as soon as the last one is answered.
    samples = thread_map(
        lambda _: timed_request(url, method, json), range(n), max_workers=concurrency,
        desc=label, disable=not progress, leave=KEEP_FINISHED_BAR, tqdm_class=auto_tqdm,
    )  # fmt: skip
    return Samples(label, list(samples))


def measure_send(target, pattern: str, n: int = 30, *, email: dict | None = None, **options) -> Samples:
    """Time `n` sends with one pattern (POST /send/<pattern>), labelled with the pattern."""
    options.setdefault("label", pattern)
    return measure(target, f"send/{pattern}", n, json=email or DEFAULT_EMAIL, **options)

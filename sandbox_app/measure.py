"""Measure response times: n requests to a route -> latency samples with a summary."""

from __future__ import annotations

import http.client
import json as jsonlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from statistics import fmean
from urllib.parse import urlsplit

from tqdm.auto import tqdm
from tqdm.autonotebook import tqdm as _autonotebook_tqdm
from tqdm.std import tqdm as _terminal_tqdm

# A finished bar stays in a notebook cell (and is saved with the notebook); a terminal's is
# cleared, so that the table printed next stands alone.
KEEP_FINISHED_BAR = _autonotebook_tqdm is not _terminal_tqdm

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
    """The base URL of a Sandbox (its .url) or of a URL string; a stopped Sandbox says so."""
    if not getattr(target, "running", True):
        from .runner import SandboxNotRunning

        raise SandboxNotRunning()  # instead of a wall of "connection refused"
    return getattr(target, "url", target)


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
    url = base_url(target).rstrip("/") + "/" + path.lstrip("/")
    method = method or ("POST" if json is not None else "GET")
    for _ in range(warmup):
        timed_request(url, method, json)
    result = Samples(label or path.strip("/"))
    tickets = iter(range(n))
    lock = threading.Lock()
    # tqdm starts a monitor thread: only make a bar when one is wanted.
    bar = tqdm(total=n, desc=result.label, leave=KEEP_FINISHED_BAR) if progress else None

    def one_more() -> bool:
        with lock:
            return next(tickets, None) is not None

    def record(sample: Sample) -> None:
        with lock:
            result.samples.append(sample)
            if bar is not None:
                bar.update()

    clients, errors = start_clients(url, method, json, concurrency, "measure-client", one_more, record)
    for thread in clients:
        thread.join()
    if bar is not None:
        bar.close()
    if errors:
        raise errors[0]
    return result


def start_clients(url, method, json, count, name, one_more, record) -> tuple[list[threading.Thread], list]:
    """Start `count` clients sending back to back while `one_more()` agrees; `record` gets each sample.

    Returns the threads and the list their first error lands in (re-raise it in the caller's thread).
    """
    errors: list[BaseException] = []

    def client() -> None:
        while not errors and one_more():
            try:
                sample = timed_request(url, method, json)
            except BaseException as error:
                errors.append(error)
                return
            record(sample)

    threads = [threading.Thread(target=client, name=f"{name}-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    return threads, errors


def measure_send(target, pattern: str, n: int = 30, *, email: dict | None = None, **options) -> Samples:
    """Time `n` sends with one pattern (POST /send/<pattern>), labelled with the pattern."""
    options.setdefault("label", pattern)
    return measure(target, f"send/{pattern}", n, json=email or DEFAULT_EMAIL, **options)


# --- The lessons' experiments (also usable from tests and scripts) --------------------------


def blocks_worker(samples: Samples, delay: float) -> bool:
    """Whether the responses waited for the mail server: median at least 80 % of its `delay` (s)."""
    return bool(delay) and samples.p50_ms >= 0.8 * delay * 1000


def wait_until_settled(sandbox, patterns=("threaded", "pool"), timeout: float = 10.0) -> bool:
    """Wait until all mail these patterns accepted is delivered or failed; False if `timeout` s pass first."""
    stats = sandbox.app.extensions["sandbox_stats"]
    deadline = time.monotonic() + timeout
    while True:
        counters = stats.snapshot()
        if all(c["delivered"] + c["failed"] >= c["accepted"] for name, c in counters.items() if name in patterns):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


@dataclass
class DelaySweep:
    """One pattern's response times at several mail server delays (seconds -> Samples)."""

    pattern: str
    runs: dict[float, Samples]

    @property
    def delays(self) -> list[float]:
        """The delays tried, in seconds, smallest first."""
        return sorted(self.runs)

    def medians_ms(self) -> list[float]:
        """The median response time at each delay, in ms."""
        return [self.runs[delay].p50_ms for delay in self.delays]

    @property
    def slope(self) -> float:
        """Extra response ms per ms of delay (least squares on the medians): 1 means all of it reaches the user."""
        xs, ys = [delay * 1000 for delay in self.delays], self.medians_ms()
        mean_x, mean_y = fmean(xs), fmean(ys)
        spread = sum((x - mean_x) ** 2 for x in xs)
        if not spread:
            raise ValueError("a slope needs at least two different delays")
        return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread

    def never_faster_than_delay(self) -> bool:
        """Whether every response took at least the delay the mail server waited."""
        return all(self.runs[delay].min_ms >= delay * 1000 for delay in self.delays)

    def follows_delay(self, tolerance: float = 0.2) -> bool:
        """Whether the response time grows with the delay, ms for ms (slope within 1 ± tolerance)."""
        return self.never_faster_than_delay() and abs(self.slope - 1) <= tolerance


def sweep_delay(
    sandbox, pattern: str, delays=(0.0, 0.1, 0.2, 0.3), n: int = 3, *, email: dict | None = None
) -> DelaySweep:
    """Set each delay on the sandbox's debug mail server in turn and time `n` sends; the old delay is put back."""
    server = sandbox.mail_server
    if server is None:
        raise ValueError("this sandbox sends to an outside mail server: it has no delay to change")
    saved = server.settings.delay
    runs: dict[float, Samples] = {}
    try:
        for number, delay in enumerate(delays):
            server.configure(delay=delay)
            label = f"{pattern} at {delay:g} s"
            runs[float(delay)] = measure_send(sandbox, pattern, n, email=email, warmup=int(number == 0), label=label)
    finally:
        server.configure(delay=saved)
    return DelaySweep(pattern, runs)


@contextmanager
def background_load(
    target, path: str, clients: int = 8, *, json: dict | None = None, label: str | None = None
) -> Iterator[Samples]:
    """While the block runs, `clients` clients request `path` back to back; yields their samples.

    The block starts once every client has had one answer, so it runs under steady load.
    """
    url = base_url(target).rstrip("/") + "/" + path.lstrip("/")
    method = "POST" if json is not None else "GET"
    result = Samples(label or f"{path.strip('/')} load")
    stop = threading.Event()
    lock = threading.Lock()

    def record(sample: Sample) -> None:
        with lock:
            result.samples.append(sample)

    threads, errors = start_clients(url, method, json, clients, "load-client", lambda: not stop.is_set(), record)
    try:
        while len(result.samples) < clients and not errors:
            time.sleep(0.005)
        yield result
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]


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
    url = base_url(sandbox).rstrip("/") + "/" + path.lstrip("/")
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


@dataclass
class Span:
    """Something that took time: what, in which thread, from `start` to `end` (epoch seconds)."""

    what: str
    thread: str
    start: float
    end: float

    @property
    def ms(self) -> float:
        """How long it took, in ms."""
        return (self.end - self.start) * 1000


@contextmanager
def recording_smtp_sends() -> Iterator[list[Span]]:
    """Record each `mail.send` in this process while the block runs: start, end and thread."""
    from .mailer import mail

    spans: list[Span] = []
    real_send = mail.send

    def send(message):
        start = time.time()
        try:
            return real_send(message)
        finally:
            spans.append(Span("mail.send", threading.current_thread().name, start, time.time()))

    mail.send = send  # a stopwatch around the real send, on this one object, for this block only
    try:
        yield spans
    finally:
        del mail.send


@dataclass
class Timeline:
    """One request and the `mail.send` it caused, on one clock."""

    pattern: str
    status: int
    request: Span
    smtp: Span

    @property
    def smtp_inside_request(self) -> bool:
        """Whether the whole SMTP send happened while the user waited."""
        return self.request.start <= self.smtp.start and self.smtp.end <= self.request.end

    @property
    def answered_before_sent(self) -> bool:
        """Whether the response reached the user before the mail server had the message."""
        return self.request.end < self.smtp.end


def trace_send(sandbox, pattern: str, *, email: dict | None = None, timeout: float = 10.0) -> Timeline:
    """Send once with `pattern` and record both spans (patterns that send in this process)."""
    url = base_url(sandbox) + f"send/{pattern}"
    with recording_smtp_sends() as spans:
        exchange = timed_exchange(url, "POST", email or DEFAULT_EMAIL, timeout)
        if exchange.sample.status >= 400:
            answer = exchange.body.decode(errors="replace")
            raise ValueError(f"POST /send/{pattern} answered {exchange.sample.status}: {answer}")
        deadline = time.monotonic() + timeout
        while not spans:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{pattern}: no mail.send in this process within {timeout:g} s")
            time.sleep(0.005)
    sample = exchange.sample
    client = threading.current_thread().name
    request = Span(f"POST /send/{pattern}", client, sample.started_at, sample.started_at + sample.seconds)
    return Timeline(pattern, sample.status, request, spans[0])

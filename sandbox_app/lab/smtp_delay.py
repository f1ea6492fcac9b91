"""Who waits for the mail server (the lessons on blocking and threaded sending): a delay sweep, one request's timeline."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from statistics import linear_regression, median

from ..examples import DEFAULT_EMAIL
from ..mailer import mail
from ..measuring import Samples, endpoint, measure_send, timed_exchange
from ..sandbox import Sandbox
from ..waiting import wait_until
from .running import running_sandbox


def blocks_worker(samples: Samples, delay: float) -> bool:
    """Whether the responses waited for the mail server: their median SMTP time at least 80 % of its `delay` (s).

    The SMTP time is what the view itself spent in the mail server (its Server-Timing header): a busy machine
    slows every response, but only a view that sends spends it there. Without that header, the whole response.
    """
    smtp_ms = samples.split_ms()["smtp"]
    waited_ms = median(smtp_ms) if smtp_ms else samples.p50_ms
    return bool(delay) and waited_ms >= 0.8 * delay * 1000


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
        if len(self.delays) < 2:
            raise ValueError("a slope needs at least two different delays")
        return linear_regression([delay * 1000 for delay in self.delays], self.medians_ms()).slope

    def never_faster_than_delay(self) -> bool:
        """Whether every response took at least the delay the mail server waited."""
        return all(self.runs[delay].min_ms >= delay * 1000 for delay in self.delays)

    def follows_delay(self, tolerance: float = 0.2) -> bool:
        """Whether the response time grows with the delay, ms for ms (slope within 1 ± tolerance)."""
        return self.never_faster_than_delay() and abs(self.slope - 1) <= tolerance


def sweep_delay(
    sandbox: Sandbox, pattern: str, delays=(0.0, 0.1, 0.2, 0.3), n: int = 3, *, email: dict | None = None
) -> DelaySweep:
    """Set each delay on the sandbox's debug mail server in turn and time `n` sends; the old delay is put back."""
    server = running_sandbox(sandbox).mail_server
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


def trace_send(sandbox: Sandbox, pattern: str, *, email: dict | None = None, timeout: float = 10.0) -> Timeline:
    """Send once with `pattern` and record both spans (patterns that send in this process)."""
    where = endpoint(running_sandbox(sandbox))
    with recording_smtp_sends() as spans:
        exchange = timed_exchange(
            where.route(f"send/{pattern}"), "POST", email or DEFAULT_EMAIL, timeout, where.headers
        )
        if exchange.sample.status >= 400:
            answer = exchange.body.decode(errors="replace")
            raise ValueError(f"POST /send/{pattern} answered {exchange.sample.status}: {answer}")
        wait_until(lambda: spans, timeout, f"a mail.send of {pattern} in this process")
    sample = exchange.sample
    client = threading.current_thread().name
    request = Span(f"POST /send/{pattern}", client, sample.started_at, sample.started_at + sample.seconds)
    return Timeline(pattern, sample.status, request, spans[0])

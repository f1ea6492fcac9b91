"""Under load (the lesson): the CPU a request costs, and the page's comparison table rebuilt from measurements."""

from __future__ import annotations

import importlib
import math
import os
import time
from dataclasses import dataclass
from statistics import median

from ..measuring import Samples, endpoint, timed_request
from ..sandbox import Sandbox
from .running import running_sandbox, wait_until_settled
from .smtp_delay import blocks_worker
from .tables import TOO_FEW, Table, enough_samples

# getrusage counts the context switches of all the process's threads (psutil's count is the main thread's only);
# Windows has no `resource` module, and there the switches are not counted (nan).
resource = importlib.import_module("resource") if os.name == "posix" else None

# The three response time limits of usability research (Nielsen, 1993, after Miller, 1968): under 0.1 s a
# response feels instant, under 1 s the user's flow of thought is kept, under 10 s their attention is.
FEELS_INSTANT_MS = 100
KEEPS_FLOW_MS = 1000
KEEPS_ATTENTION_MS = 10_000


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
    rounds: int = 1  # more than one: the median of that many rounds of `n` requests, interleaved with other paths

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
        requests = f"{self.n} requests" if self.rounds == 1 else f"median of {self.rounds} rounds of {self.n} requests"
        return f"{self.label}: {self.cpu_ms:.2f} ms of CPU per request{switches} ({requests})"


def cpu_per_request(
    sandbox: Sandbox, path: str = "ping", n: int = 50, *, json: dict | None = None, label: str | None = None
) -> CpuCost:
    """CPU per request when client, app and mail server all run in this process (a started Sandbox).

    Background sends are waited for, so their CPU counts too: moving work to a thread does not remove it.
    """
    where = endpoint(running_sandbox(sandbox))
    url, headers = where.route(path), where.headers
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


def interleaved_cpu_costs(
    sandbox: Sandbox, requests: dict[str, dict | None], rounds: int = 5, n: int = 10
) -> list[CpuCost]:
    """cpu_per_request for each path of `requests` (its JSON body, or None for a GET), in interleaved rounds.

    Each path's figure is the median of its rounds: a burst of other work on the machine lands in one round of
    one path, not in a whole measurement, so two paths are compared under the same conditions.
    """
    measured: dict[str, list[CpuCost]] = {path: [] for path in requests}
    for _ in range(rounds):
        for path, body in requests.items():
            measured[path].append(cpu_per_request(sandbox, path, n, json=body))
    return [
        CpuCost(
            path.strip("/"), n, median(cost.cpu_seconds for cost in costs), median(cost.wall_seconds for cost in costs),
            median(cost.context_switches for cost in costs), rounds,
        )
        for path, costs in measured.items()
    ]  # fmt: skip


def experience(ms: float) -> str:
    """What a response time feels like to a person (usability research's three limits)."""
    if ms < FEELS_INSTANT_MS:
        return "feels instant"
    if ms < KEEPS_FLOW_MS:
        return "a noticeable wait"
    if ms < KEEPS_ATTENTION_MS:
        return "breaks the user's flow of thought"
    return "long enough to lose the user's attention"


@dataclass
class Comparison:
    """One pattern, measured alone and with `clients` clients at once, against the mail server's delay."""

    pattern: str
    delay: float
    alone: Samples
    crowd: Samples | None = None
    clients: int | None = None

    @property
    def blocks_worker(self) -> bool:
        """Whether each response waited for the mail server (the worker was held meanwhile)."""
        return blocks_worker(self.alone, self.delay)

    @property
    def verdict(self) -> str:
        """The page's verdict, from this measurement."""
        return "[X] Bad" if self.blocks_worker else "[OK] Good"

    def row(self, crowd_column: bool = True) -> list[str]:
        """The table row: pattern, blocks the worker?, response delay, (in a crowd,) user experience, verdict."""
        blocks = f"yes, for the mail server's {self.delay * 1000:g} ms" if self.blocks_worker else "no"
        delay = f"p50 {_ms(self.alone.p50_ms)}, p95 {_pct_ms(self.alone, 95)}"
        feel = experience(self.alone.p50_ms)
        crowd = "-"
        if self.crowd is not None:
            crowd = f"p50 {_ms(self.crowd.p50_ms)}, p95 {_pct_ms(self.crowd, 95)}"
            if experience(self.crowd.p50_ms) != feel:
                feel += f"; {experience(self.crowd.p50_ms)} in the crowd"
        return [self.pattern, blocks, delay, *([crowd] if crowd_column else []), feel, self.verdict]


def _ms(value: float) -> str:
    """Milliseconds as people read them: 0.52 ms, 3.4 ms, 204 ms."""
    return f"{value:.2f} ms" if value < 1 else f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def _pct_ms(samples: Samples, q: float) -> str:
    """A percentile as people read it, or "–" when there are too few samples for it."""
    return _ms(samples.pct(q)) if enough_samples(samples.n, q) else TOO_FEW


class ComparisonTable(Table):
    """The page's comparison table, rebuilt from measurements."""

    def __init__(self, comparisons: list[Comparison]) -> None:
        self.comparisons = comparisons
        delay = comparisons[0].delay if comparisons else 0
        crowds = {c.clients for c in comparisons if c.crowd is not None}
        with_crowd = bool(crowds)
        columns = ["pattern", "blocks the worker?", "response delay, one client"]
        if with_crowd:
            clients = crowds.pop() if len(crowds) == 1 else None
            columns.append(f"{clients or 'many'} clients at once")
        columns += ["user experience", "verdict"]
        rows = [c.row(crowd_column=with_crowd) for c in comparisons]
        super().__init__(columns, rows, f"Measured here, mail server delay {delay * 1000:g} ms")

    def verdicts(self) -> str:
        """Only what does not change from run to run: each pattern, whether it blocks, its verdict."""
        return "\n".join(
            f"{c.pattern}: {'blocks' if c.blocks_worker else 'does not block'} the worker, {c.verdict}"
            for c in self.comparisons
        )


def comparison_table(
    delay: float, alone: list[Samples], crowd: list[Samples] = (), clients: int | None = None
) -> ComparisonTable:
    """Rebuild the page's table from samples labelled with their pattern (as `measure_send` labels them).

    `delay` is the mail server's delay (s) while measuring; `crowd` holds the same patterns
    measured with `clients` clients at once.
    """
    crowds = {s.label: s for s in crowd}
    return ComparisonTable([Comparison(s.label, delay, s, crowds.get(s.label), clients) for s in alone])

"""The server-models lesson: one blocking send under threads, processes and gevent, measured from outside."""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import runner
from ..config import SandboxConfig
from ..measuring import Samples, background_sends, measure, measure_send
from ..processes.child import ChildError, ChildProcess
from ..processes.servers import ServerUnavailable, check_server, learner_command, serving
from ..sandbox import Sandbox
from .plots import COLORS, new_figure
from .running import running_sandbox
from .tables import Table

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
MODEL_NAMES = {
    "waitress": "threads (waitress)",
    "gunicorn-sync": "processes (gunicorn sync)",
    "gunicorn-gthread": "threads (gunicorn gthread)",
    "gunicorn-gevent": "gevent (gunicorn)",
}


@dataclass
class ModelRun:
    """One server model at one mail server delay: the sender's wait, /ping's wait next to senders, memory."""

    server: str
    workers: int
    delay: float
    sender: Samples | None = None
    ping_alone: Samples | None = None
    ping_loaded: Samples | None = None
    memory_mb: float | None = None
    processes: int = 0  # the app's processes measured: gunicorn's master and its workers, or waitress's one
    skipped: str | None = None

    @property
    def name(self) -> str:
        """How the lesson calls the model."""
        return MODEL_NAMES.get(self.server, self.server)

    @property
    def command(self) -> str:
        """What you would type to serve your own app this way."""
        return learner_command(self.server, self.workers)

    def row(self) -> list:
        """The table row: model, workers, the sender's p50, /ping's p50 alone and next to 8 senders, memory."""
        if self.skipped:
            return [self.name, "-", "-", "-", "-", "-", f"skipped: {self.skipped}"]
        return [
            self.name, serving(self.server, self.workers), round(self.sender.p50_ms, 1),
            round(self.ping_alone.p50_ms, 1), round(self.ping_loaded.p50_ms, 1), self.processes, round(self.memory_mb),
        ]  # fmt: skip


def run_model(
    server: str, delay: float = 0.3, workers: int | None = None, senders: int = 8, pings: int = 3
) -> ModelRun:
    """Start the sandbox under `server`, measure it from a client process, stop it; a skipped run says why."""
    try:
        check_server(server)
    except ServerUnavailable as error:
        return ModelRun(server, workers or 0, delay, skipped=str(error))
    runner.stop()  # one sandbox at a time: the notebook's own is started again afterwards
    with Sandbox(SandboxConfig.resolve(server=server, workers=workers, smtp_delay=delay)) as sandbox:
        sender = measure_send(sandbox, "blocking", 3, warmup=1, label=f"{server}: the sender")
        ping_alone = measure(sandbox, "ping", 10, label=f"{server}: ping alone")
        with background_sends(sandbox, "blocking", senders):
            ping_loaded = measure(sandbox, "ping", pings, warmup=0, label=f"{server}: ping next to {senders} senders")
        processes = len(sandbox.app_process.processes())
        return ModelRun(server, sandbox.workers, delay, sender, ping_alone, ping_loaded, sandbox.memory_mb(), processes)


def models_table(runs: list[ModelRun]) -> Table:
    """The runs side by side (times in ms, memory of the app's processes in MB)."""
    columns = ["model", "serving", "sender p50", "/ping p50 alone", "/ping p50, 8 senders", "processes", "memory MB"]
    delay = runs[0].delay if runs else 0
    caption = (
        f"A blocking send, mail server delay {delay * 1000:g} ms; memory: unique pages of all the app's processes, "
        "gunicorn's master included"
    )
    return Table(columns, [run.row() for run in runs], caption)


def plot_models(runs: list[ModelRun]):
    """The sender's wait and /ping's wait next to 8 senders, per model (log scale)."""
    figure, axes = new_figure(height=3.6)
    measured = [run for run in runs if not run.skipped]
    positions = range(len(measured))
    axes.bar([p - 0.2 for p in positions], [r.sender.p50_ms for r in measured], 0.4, color=COLORS["blocking"],
             label="the sender's response (p50)")  # fmt: skip
    axes.bar([p + 0.2 for p in positions], [r.ping_loaded.p50_ms for r in measured], 0.4, color=COLORS["ping"],
             label="/ping next to 8 senders (p50)")  # fmt: skip
    if measured:
        axes.axhline(measured[0].delay * 1000, linestyle=":", color="black", label="the mail server's delay")
    axes.set_xticks(list(positions), [r.name for r in measured])
    axes.set_yscale("log")
    axes.set(ylabel="ms (log scale)", title="Who waits for a blocking send, under each server model?")
    axes.legend(loc="lower left", fontsize=8)
    axes.grid(axis="y", alpha=0.3, which="both")
    return figure


@dataclass
class LocustRow:
    """What Locust measured for one request name (ms)."""

    name: str
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass
class LocustResult:
    """What Locust measured per request name: count, failures, p50, p95, p99 (ms)."""

    rows: list[LocustRow]

    @property
    def by_name(self) -> dict[str, LocustRow]:
        """The rows by request name ("/ping", "/send/blocking")."""
        return {row.name: row for row in self.rows}

    def table(self) -> Table:
        """The rows as a table."""
        columns = ["name", "requests", "failures", "p50 ms", "p95 ms", "p99 ms"]
        rows = [[r.name, r.requests, r.failures, r.p50_ms, r.p95_ms, r.p99_ms] for r in self.rows]
        return Table(columns, rows, "Locust, from its own process")


def run_locust(sandbox: Sandbox, users: int = 8, seconds: int = 3, pattern: str = "blocking") -> LocustResult:
    """Point Locust (headless) at the sandbox for `seconds` with `users` users; its per-request statistics."""
    sandbox = running_sandbox(sandbox)  # a stopped one: say so, not a table of refused connections
    with tempfile.TemporaryDirectory(prefix="locust-") as folder:
        prefix = Path(folder) / "run"
        env = {**os.environ, "SANDBOX_PATTERN": pattern, "SANDBOX_KEY": sandbox.key or ""}
        locust = ChildProcess(
            [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--headless", "--users", users, "--spawn-rate", users,
             "--run-time", f"{seconds}s", "--host", sandbox.url, "--csv", prefix, "--only-summary",
             "--loglevel", "WARNING"],
            Path(folder) / "locust.log", what="locust", env=env,
        )  # fmt: skip
        code = locust.run(timeout=seconds + 60)
        if code != 0 and not Path(f"{prefix}_stats.csv").exists():
            raise ChildError(f"locust failed; its log:\n{locust.read_log()}")
        with open(f"{prefix}_stats.csv", newline="") as stats:
            rows = [row for row in csv.DictReader(stats) if row["Name"] != "Aggregated"]
    return LocustResult([
        LocustRow(row["Name"], int(row["Request Count"]), int(row["Failure Count"]), float(row["50%"]),
                  float(row["95%"]), float(row["99%"]))
        for row in rows
    ])  # fmt: skip

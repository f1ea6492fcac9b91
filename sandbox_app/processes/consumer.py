"""The queue's consumer as its own process (`huey_consumer sandbox_app.processes.huey_worker.huey`), as production runs it."""

from __future__ import annotations

import signal
import sys

from .worker_process import WorkerProcess, WorkerSettings

WORKER_MODULE = "sandbox_app.programs.huey_worker"


class ConsumerProcess(WorkerProcess):
    """One `huey_consumer` process with thread workers; it stops itself if its parent goes away."""

    def __init__(self, settings: WorkerSettings, workers: int = 8) -> None:
        self.workers = workers
        config = settings.app_config
        # SIGINT is Huey's graceful stop: the sends in progress finish.
        super().__init__(
            self.huey_command(workers, config.get("HUEY_OPTIONS", ())), settings, what="the queue consumer",
            name=f"consumer-{config['QUEUE_NAME']}", stop_signal=signal.SIGINT,
        )  # fmt: skip

    @staticmethod
    def huey_command(workers: int, options=()) -> list[str]:
        """The huey_consumer command line: thread workers polling often, no periodic tasks, then `options`."""
        return [
            sys.executable, "-m", "huey.bin.huey_consumer", f"{WORKER_MODULE}.huey",
            "--workers", str(workers), "--worker-type", "thread",
            # Poll an idle SQLite queue every 10-100 ms (Redis blocks on BRPOP instead).
            "--delay", "0.01", "--max-delay", "0.1", "--backoff", "1.5",
            "--no-periodic", *options,
        ]  # fmt: skip

    def __repr__(self) -> str:
        state = f"running, pid {self.pid}" if self.running else "stopped"
        return f"<ConsumerProcess {state}: queue {self.config['QUEUE_NAME']}, {self.workers} workers>"

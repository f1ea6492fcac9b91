"""The queue's consumer as its own process (`huey_consumer sandbox_app.processes.queue_worker.huey`), as production runs it."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from ..paths import state_dir
from .child import ChildProcess
from .env import config_env

READY_FILE_ENV = "SANDBOX_CONSUMER_READY"
WORKER_MODULE = "sandbox_app.processes.queue_worker"


class ConsumerProcess(ChildProcess):
    """One `huey_consumer` process with thread workers; it stops itself if its parent goes away."""

    def __init__(self, config: dict, workers: int = 8, *, log_path: Path | None = None) -> None:
        self.config = dict(config)
        self.workers = workers
        log_path = log_path or state_dir() / "logs" / f"consumer-{config['QUEUE_NAME']}-{os.getpid()}-{id(self):x}.log"
        # SIGINT is Huey's graceful stop: the sends in progress finish.
        super().__init__(self.huey_command(), log_path, what="the queue consumer", stop_signal=signal.SIGINT)

    def huey_command(self) -> list[str]:
        """The huey_consumer command line: thread workers polling often, no periodic tasks."""
        return [
            sys.executable, "-m", "huey.bin.huey_consumer", f"{WORKER_MODULE}.huey",
            "--workers", str(self.workers), "--worker-type", "thread",
            # Poll an idle SQLite queue every 10-100 ms (Redis blocks on BRPOP instead).
            "--delay", "0.01", "--max-delay", "0.1", "--backoff", "1.5",
            "--no-periodic",
        ]  # fmt: skip

    def start(self, timeout: float | None = None) -> ConsumerProcess:
        """Start the process and wait until its workers are running; ChildError with its log if it fails."""
        ready = Path(tempfile.mkdtemp(prefix="sandbox-consumer-")) / "ready"
        self.ready = ready.exists
        self.env = dict(
            os.environ,
            **config_env(self.config),
            **{
                READY_FILE_ENV: str(ready),
                "SANDBOX_STATE_DIR": str(state_dir()),  # the same SQLite file as this process
                "PYTHONUNBUFFERED": "1",
            },
        )
        try:
            super().start(timeout)
        finally:
            # Every worker touches the file, maybe after we looked: remove the folder whatever it holds.
            shutil.rmtree(ready.parent, ignore_errors=True)
        return self

    def stop(self, timeout: float = 15.0) -> int | None:
        """Graceful stop, then SIGKILL after `timeout`; the log is removed after a clean exit, kept after any other."""
        code = super().stop(timeout)
        if code == 0:
            self.log_path.unlink(missing_ok=True)
        return code

    def __repr__(self) -> str:
        state = f"running, pid {self.pid}" if self.running else "stopped"
        return f"<ConsumerProcess {state}: queue {self.config['QUEUE_NAME']}, {self.workers} workers>"

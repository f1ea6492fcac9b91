"""Run the queue's consumer as its own process (`huey_consumer sandbox_app.tasks.huey`), as production does."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .paths import state_dir

# How the parent tells the consumer what to build (read by sandbox_app.tasks).
CONFIG_ENV = "SANDBOX_APP_CONFIG"
PARENT_PID_ENV = "SANDBOX_PARENT_PID"
READY_FILE_ENV = "SANDBOX_CONSUMER_READY"


class ConsumerError(RuntimeError):
    """The consumer process did not start; the message ends with its log."""


class ConsumerProcess:
    """One `huey_consumer` process with thread workers; it stops itself if its parent goes away."""

    def __init__(self, config: dict, workers: int = 8, *, log_path: Path | None = None) -> None:
        self.config = dict(config)
        self.workers = workers
        logs = state_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path or logs / f"consumer-{config['QUEUE_NAME']}-{os.getpid()}-{id(self):x}.log"
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        """The huey_consumer command line: thread workers polling often, no periodic tasks."""
        return [
            sys.executable, "-m", "huey.bin.huey_consumer", "sandbox_app.tasks.huey",
            "--workers", str(self.workers), "--worker-type", "thread",
            # Poll an idle SQLite queue every 10-100 ms (Redis blocks on BRPOP instead).
            "--delay", "0.01", "--max-delay", "0.1", "--backoff", "1.5",
            "--no-periodic",
        ]  # fmt: skip

    def start(self, ready_timeout: float = 20.0) -> ConsumerProcess:
        """Start the process and wait until its workers are running; ConsumerError if it fails."""
        ready = Path(tempfile.mkdtemp(prefix="sandbox-consumer-")) / "ready"
        env = dict(
            os.environ,
            **{
                CONFIG_ENV: json.dumps(self.config),
                PARENT_PID_ENV: str(os.getpid()),
                READY_FILE_ENV: str(ready),
                "SANDBOX_STATE_DIR": str(state_dir()),  # the same SQLite file as this process
                "PYTHONUNBUFFERED": "1",
            },
        )
        with open(self.log_path, "wb") as log_file:
            # Its own session: a Ctrl-C meant for the parent does not reach it; the parent stops it.
            self.process = subprocess.Popen(
                self.command(), env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        try:
            deadline = time.monotonic() + ready_timeout
            while not ready.exists():
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = self.read_log()
                    self.stop(timeout=2)
                    raise ConsumerError(f"the queue consumer did not start; its log:\n{log}")
                time.sleep(0.02)
        finally:
            # Every worker touches the file, maybe after we looked: remove the folder whatever it holds.
            shutil.rmtree(ready.parent, ignore_errors=True)
        return self

    @property
    def pid(self) -> int | None:
        """The process id, once started."""
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGINT (Huey's graceful stop: sends in progress finish), then SIGKILL after `timeout`; the exit code.

        The log is removed after a clean exit and kept (see `log_path`) after any other.
        """
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.returncode == 0:
            self.log_path.unlink(missing_ok=True)
        return self.process.returncode

    def read_log(self) -> str:
        """What the consumer wrote: Huey's log lines and any traceback."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> ConsumerProcess:
        return self if self.running else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running, pid {self.pid}" if self.running else "stopped"
        return f"<ConsumerProcess {state}: queue {self.config['QUEUE_NAME']}, {self.workers} workers>"

"""A queue's worker in a process of its own, built from the app's config: ready once it touches a file we name."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import tempfile
from contextlib import suppress
from pathlib import Path

from ..paths import state_dir
from .child import ChildProcess
from .env import config_env

READY_FILE_ENV = "SANDBOX_WORKER_READY"


def touch_ready_file() -> None:
    """In the worker: tell the parent it is ready (the parent removes the file once seen)."""
    ready = os.environ.get(READY_FILE_ENV)
    if ready:
        with suppress(OSError):  # already seen and removed: the parent has moved on
            Path(ready).touch()


class WorkerProcess(ChildProcess):
    """A worker process (Huey's consumer, a Celery or an RQ worker) that sends what the app queued.

    `config` is the Flask config it builds the same app from (passed in the environment, never argv:
    it holds the mail server's login); its log is removed after a clean stop and kept after any other.
    """

    def __init__(self, command: list, config: dict, *, what: str, name: str, stop_signal: int = signal.SIGTERM) -> None:
        self.config = dict(config)
        log_path = state_dir() / "logs" / f"{name}-{os.getpid()}-{secrets.token_hex(3)}.log"
        super().__init__(command, log_path, what=what, stop_signal=stop_signal)

    def start(self, timeout: float | None = None) -> WorkerProcess:
        """Start the process and wait until it is ready; ChildError with its log if it fails."""
        ready = Path(tempfile.mkdtemp(prefix="sandbox-worker-")) / "ready"
        self.ready = ready.exists
        self.env = {
            **os.environ,
            **config_env(self.config),
            READY_FILE_ENV: str(ready),
            "SANDBOX_STATE_DIR": str(state_dir()),  # the same queue files and counters as this process
            "PYTHONUNBUFFERED": "1",
        }
        try:
            super().start(timeout)
        finally:
            # Each of its threads may touch the file, maybe after we looked: remove the folder whatever it holds.
            shutil.rmtree(ready.parent, ignore_errors=True)
        return self

    def stop(self, timeout: float = 15.0) -> int | None:
        """Graceful stop, then SIGKILL after `timeout`; the log is removed after a clean exit."""
        code = super().stop(timeout)
        if code == 0:
            self.log_path.unlink(missing_ok=True)
        return code

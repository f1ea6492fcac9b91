"""A queue's worker in a process of its own, built from the sandbox's settings: ready once it reports so."""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Mapping
from typing import Any, Protocol

from ..paths import state_dir
from .child import ChildProcess
from .env import Settings, settings_env


class WorkerSettings(Settings, Protocol):
    """What a worker is started from (a SandboxConfig, with the worker's own Flask settings in `app_config`)."""

    app_config: Mapping[str, Any]


class WorkerProcess(ChildProcess):
    """A worker process (Huey's consumer, a Celery or an RQ worker) that sends what the app queued.

    `settings` are what it builds the same app from (passed in the environment, never argv: they hold
    the mail server's login); it reports ready through its ready file (`env.report_ready`). Its log is
    removed after a clean stop and kept after any other.
    """

    def __init__(
        self, command: list, settings: WorkerSettings, *, what: str, name: str, stop_signal: int = signal.SIGTERM
    ) -> None:
        self.settings = settings
        self.config = dict(settings.app_config)  # the Flask settings it was given on top of the sandbox's
        log_path = state_dir() / "logs" / f"{name}-{os.getpid()}-{secrets.token_hex(3)}.log"
        super().__init__(command, log_path, what=what, stop_signal=stop_signal, reports_ready=True)

    def start(self, timeout: float | None = None) -> WorkerProcess:
        """Start the process and wait until it reports ready; ChildError with its log if it fails."""
        self.env = {
            **os.environ,
            **settings_env(self.settings),
            "SANDBOX_STATE_DIR": str(state_dir()),  # the same queue files and counters as this process
            "PYTHONUNBUFFERED": "1",
        }
        super().start(timeout)
        return self

    def stop(self, timeout: float = 15.0) -> int | None:
        """Graceful stop, then SIGKILL after `timeout`; the log is removed after a clean exit."""
        code = super().stop(timeout)
        if code == 0:
            self.log_path.unlink(missing_ok=True)
        return code

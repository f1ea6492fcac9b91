"""The web app as its own process (`python -m sandbox_app`), so a lesson can kill it the hard way."""

from __future__ import annotations

import os
import sys

from ..paths import state_dir
from .child import ChildProcess


class WebProcess(ChildProcess):
    """`python -m sandbox_app ARGS` in a child process: its URL and key, `kill()` to crash it, `stop()` to end it.

    It reports its URL and key through its ready file (`env.report_ready`), not the banner it prints.
    """

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.args = [str(arg) for arg in args]
        log_path = state_dir() / "logs" / f"web-process-of-{os.getpid()}.log"  # the last one's log is kept
        # Secrets (a key, an SMTP password) travel in the environment: argv is visible to every account.
        env = {**os.environ, **(env or {})}
        command = [sys.executable, "-u", "-m", "sandbox_app", *self.args]
        super().__init__(command, log_path, what="the web process", env=env, reports_ready=True)

    @property
    def url(self) -> str | None:
        """The app's base URL, once it reported ready."""
        return self.report["url"] if self.report else None

    @property
    def key(self) -> str | None:
        """The sandbox's key (None when open), once it reported ready."""
        return self.report["key"] if self.report else None

    def __exit__(self, *exc_info: object) -> None:
        self.kill()  # a crash, as the lesson wants: no graceful stop
        self.stop()  # and nothing it started is left behind

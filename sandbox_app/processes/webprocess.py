"""The web app as its own process (`python -m sandbox_app`), so a lesson can kill it the hard way."""

from __future__ import annotations

import os
import re
import sys

from ..paths import state_dir
from .child import ChildProcess

APP_LINE = re.compile(r"app:\s+(http://[^\s?]+/)(?:\?key=([\w-]+))?")  # the base URL, then the key


class WebProcess(ChildProcess):
    """`python -m sandbox_app ARGS` in a child process: its URL and key, `kill()` to crash it, `stop()` to end it."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.args = [str(arg) for arg in args]
        log_path = state_dir() / "logs" / f"web-process-of-{os.getpid()}.log"  # the last one's log is kept
        # Secrets (a key, an SMTP password) travel in the environment: argv is visible to every account.
        env = {**os.environ, **(env or {})}
        command = [sys.executable, "-u", "-m", "sandbox_app", *self.args]
        super().__init__(command, log_path, what="the web process", env=env, ready=self._printed_url)
        self.url: str | None = None
        self.key: str | None = None

    def _printed_url(self) -> str | None:
        found = APP_LINE.search(self.read_log())  # the banner: "Mail sandbox running", then "  app: http://..."
        if found:
            self.url, self.key = found.group(1), found.group(2)
        return self.url

    def __exit__(self, *exc_info: object) -> None:
        self.kill()  # a crash, as the lesson wants: no graceful stop
        self.stop()  # and nothing it started is left behind

"""The web app as its own process (`python -m sandbox_app`), so a lesson can kill it the hard way."""

from __future__ import annotations

import os
import re
import sys

from ..children import ChildError, ChildProcess
from ..paths import state_dir
from ..web.access import KEY_HEADER

APP_LINE = re.compile(r"app:\s+(http://[^\s?]+/)(?:\?key=([\w-]+))?")  # the base URL, then the key


class WebProcessError(ChildError):
    """The web process did not come up; the message ends with what it printed."""


class WebProcess(ChildProcess):
    """`python -m sandbox_app ARGS` in a child process: its URL, `kill()` to crash it, `stop()` to end it."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.args = [str(arg) for arg in args]
        log_path = state_dir() / "logs" / f"web-process-of-{os.getpid()}.log"  # the last one's log is kept
        # Secrets (a key, an SMTP password) travel in the environment: argv is visible to every account.
        env = {**os.environ, **(env or {})}
        super().__init__([sys.executable, "-u", "-m", "sandbox_app", *self.args], log_path, env=env)
        self.url: str | None = None
        self.key: str | None = None

    @property
    def auth_headers(self) -> dict[str, str]:
        """The header that carries the key the process printed (none if it runs open)."""
        return {KEY_HEADER: self.key} if self.key else {}

    def _printed_url(self) -> str | None:
        found = APP_LINE.search(self.read_log())  # the banner: "Mail sandbox running", then "  app: http://..."
        if found:
            self.url, self.key = found.group(1), found.group(2)
        return self.url

    def start(self, timeout: float = 20.0) -> WebProcess:
        """Start it and wait for the address it prints."""
        try:
            super().start(self._printed_url, timeout, "the web process")
        except ChildError as error:
            raise WebProcessError(str(error)) from None
        return self

    def __enter__(self) -> WebProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.kill()  # never leave it behind

"""The web app as its own process (`python -m sandbox_app`), so a lesson can kill it the hard way."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from .paths import state_dir

APP_LINE = re.compile(r"app:\s+(http://\S+/)")


class WebProcessError(RuntimeError):
    """The web process did not come up; the message ends with what it printed."""


class WebProcess:
    """`python -m sandbox_app ARGS` in a child process: its URL, `kill()` to crash it, `stop()` to end it."""

    def __init__(self, *args: str) -> None:
        self.args = [str(arg) for arg in args]
        self.log_path = state_dir() / "logs" / f"web-process-of-{os.getpid()}.log"  # the last one's log is kept
        self.process: subprocess.Popen | None = None
        self.url: str | None = None

    def start(self, timeout: float = 20.0) -> WebProcess:
        """Start it and wait for the address it prints."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:  # its app log goes here, never into a notebook cell
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sandbox_app", *self.args],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        for line in self.process.stdout:  # the banner: "Mail sandbox running", then "  app: http://..."
            found = APP_LINE.search(line)
            if found:
                self.url = found.group(1)
                return self
            if time.monotonic() > deadline:
                break
        self.kill()
        raise WebProcessError(f"the web process did not start; it said:\n{self.log_path.read_text()}")

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash or an out-of-memory kill; nothing runs after."""
        if self.running:
            self.process.kill()
        if self.process is not None:
            self.process.wait()
            self.process.stdout.close()

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM: the sandbox's own clean stop (requests and sends in progress finish); the exit code."""
        if self.process is None:
            return None
        if self.running:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.kill()
        return self.process.returncode

    def __enter__(self) -> WebProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.kill()  # never leave it behind

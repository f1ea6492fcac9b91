"""One child-process lifecycle: start with its output in a log file, wait until ready, stop gently, then hard."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from .waiting import wait_until


class ChildError(RuntimeError):
    """A child process did not come up; the message ends with what it wrote."""


class ChildProcess:
    """A command run as a child process, its output in `log_path`; `stop()` asks, `kill()` insists."""

    def __init__(
        self, command: list[str], log_path: Path, *, env: dict | None = None, stop_signal: int = signal.SIGTERM
    ) -> None:
        self.command = [str(part) for part in command]
        self.log_path = log_path
        self.env = env
        self.stop_signal = stop_signal
        self.process: subprocess.Popen | None = None

    def start(self, ready: Callable[[], object], timeout: float, what: str, pass_fds=()) -> ChildProcess:
        """Start the process and wait until `ready()` is true; ChildError with its log if it dies or takes too long."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            # Its own session: a Ctrl-C meant for the parent (or a notebook's interrupt) does not reach it.
            self.process = subprocess.Popen(
                self.command, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, pass_fds=pass_fds,
            )  # fmt: skip
        with suppress(TimeoutError):  # judged just below, whatever the reason
            wait_until(lambda: not self.running or ready(), timeout, what, interval=0.02)
        if not self.running or not ready():
            self.kill()
            raise ChildError(f"{what} did not start; its log:\n{self.read_log()}")
        return self

    @property
    def pid(self) -> int | None:
        """The process id, once started."""
        return self.process.pid if self.process else None

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

    def stop(self, timeout: float = 15.0) -> int | None:
        """The stop signal (a graceful stop), then SIGKILL after `timeout` s; the exit code."""
        if self.process is None:
            return None
        if self.running:
            self.process.send_signal(self.stop_signal)
            with suppress(subprocess.TimeoutExpired):  # then it is killed below
                self.process.wait(timeout)
        self.kill()
        return self.process.returncode

    def read_log(self) -> str:
        """What the process wrote so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

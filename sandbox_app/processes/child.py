"""The one child-process lifecycle: start with its output in a log file, wait until ready, stop the whole tree."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack, suppress
from pathlib import Path

import psutil

from ..paths import state_dir
from ..waiting import wait_until
from .env import READY_FILE_ENV, read_report

# How long the processes a child started get to end after it stopped, before they are killed.
DESCENDANTS_GRACE = 5.0


class ChildError(RuntimeError):
    """A child process did not start, or did not finish in time; the message ends with what it wrote."""


class ChildProcess:
    """A command in a child process and session of its own, its output in `log_path`.

    `start()` waits until `ready()` is true and, with `reports_ready`, until the child has called
    `env.report_ready(**facts)`: `report` then holds those facts (its port, its key). `stop()` asks its
    process group with the stop signal, as a supervisor does, then kills whatever of the tree is left;
    `kill()` is a crash (SIGKILL, the process alone). Also a context manager.
    """

    def __init__(
        self,
        command: list,
        log_path: Path,
        *,
        what: str = "a child process",
        env: dict | None = None,
        cwd: Path | str | None = None,
        ready: Callable[[], object] | None = None,
        startup_timeout: float = 20.0,
        stop_signal: int = signal.SIGTERM,
        pass_fds: tuple[int, ...] = (),
        tethered: bool = False,
        reports_ready: bool = False,
        stderr_path: Path | None = None,
    ) -> None:
        self.command = [str(part) for part in command]
        self.log_path = Path(log_path)
        # Its errors in a file of their own, for a command whose output is data (`--json`); else in the log.
        self.stderr_path = None if stderr_path is None else Path(stderr_path)
        self.what = what
        self.env = env
        self.cwd = cwd
        self.ready = ready
        self.startup_timeout = startup_timeout
        self.stop_signal = stop_signal
        self.pass_fds = pass_fds
        # A program that cannot watch its parent (redis-server) runs under processes/tether.py, which ends it when
        # this process is gone, however it ended: it holds the read end of a pipe whose write end only we hold.
        self.tethered = tethered
        self._tether: int | None = None  # our end of that pipe
        self.reports_ready = reports_ready
        self.report: dict | None = None  # what the child reported once ready (reports_ready)
        self._ready_file: Path | None = None
        self.process: subprocess.Popen | None = None
        self._family: dict[int, psutil.Process] = {}  # every process of the tree seen so far, by pid
        self.killed: list[int] = []  # the pids the last stop() had to kill

    def is_ready(self) -> bool:
        """Whether the process is ready for use (by default: as soon as it runs)."""
        if self._ready_file is not None and self.report is None:
            self.report = read_report(self._ready_file)
            if self.report is None:
                return False
        return bool(self.ready()) if self.ready is not None else True

    def _child_env(self) -> dict:
        """Its environment: the ready file named if it reports one, and never the ready file of this process."""
        env = dict(os.environ if self.env is None else self.env)
        env.pop(READY_FILE_ENV, None)  # this process's own, from its parent: not for its children to write
        self.report, self._ready_file = None, None
        if self.reports_ready:
            # A folder of its own, 0700 (mkdtemp): no other account reads the report (it may hold the key).
            self._ready_file = Path(tempfile.mkdtemp(prefix="ready-", dir=state_dir())) / "ready.json"
            env[READY_FILE_ENV] = str(self._ready_file)
        return env

    def _forget_ready_file(self) -> None:
        """Remove the ready file's folder, whatever it holds now (a worker's every thread may report)."""
        if self._ready_file is not None:
            shutil.rmtree(self._ready_file.parent, ignore_errors=True)
            self._ready_file = None

    def _popen(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = self._child_env()
        command, pass_fds, watched = self.command, self.pass_fds, None
        if self.tethered:
            watched, self._tether = os.pipe()  # not inheritable: no other child of ours holds our end
            command = [sys.executable, "-m", "sandbox_app.processes.tether", str(watched), *command]
            pass_fds = (*pass_fds, watched)
        with open(self.log_path, "wb") as log, ExitStack() as errors:
            stderr = (
                subprocess.STDOUT if self.stderr_path is None else errors.enter_context(open(self.stderr_path, "wb"))
            )
            # Its own session: a Ctrl-C meant for the parent (or a notebook's interrupt) does not reach it.
            self.process = subprocess.Popen(
                command, env=env, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=log,
                stderr=stderr, start_new_session=True, pass_fds=pass_fds,
            )  # fmt: skip
        if watched is not None:
            os.close(watched)
        self._family = {}

    def start(self, timeout: float | None = None) -> ChildProcess:
        """Start the process and wait until it is ready; ChildError with its log if it dies or takes too long."""
        self._popen()
        try:
            with suppress(TimeoutError):  # judged just below, whatever the reason
                wait_until(
                    lambda: not self.running or self.is_ready(), timeout or self.startup_timeout, self.what, 0.02
                )
            if not self.running or not self.is_ready():
                self.stop(timeout=0)
                raise ChildError(f"{self.what} did not start; its log:\n{self.read_log()}{self.read_stderr()}")
        finally:
            self._forget_ready_file()
        return self

    def run(self, timeout: float) -> int:
        """Run the process to its end and return its exit code; ChildError (and no process left) after `timeout` s."""
        self._popen()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop(timeout=0)
            raise ChildError(
                f"{self.what} did not finish in {timeout:g} s; its log:\n{self.read_log()}{self.read_stderr()}"
            ) from None
        finally:
            self._forget_ready_file()

    @property
    def pid(self) -> int | None:
        """The process id, once started."""
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit code once it has ended (negative: the signal that ended it), else None."""
        return self.process.poll() if self.process else None

    def processes(self) -> list[psutil.Process]:
        """The process and every process it started that is still alive (each seen one is remembered for `stop`)."""
        if self.running:
            with suppress(psutil.NoSuchProcess):
                root = psutil.Process(self.pid)
                for member in (root, *root.children(recursive=True)):
                    self._family.setdefault(member.pid, member)
        alive = []
        for member in self._family.values():
            with suppress(psutil.NoSuchProcess):
                if member.is_running() and member.status() != psutil.STATUS_ZOMBIE:
                    alive.append(member)
        return alive

    def memory_mb(self) -> float:
        """Resident memory of the process and its descendants, in MB (unique pages, where the system tells them)."""
        total = 0
        for member in self.processes():
            with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                info = member.memory_full_info()
                total += getattr(info, "uss", info.rss)
        return total / 1e6

    def send_signal(self, signum: int) -> None:
        """Send a signal to the process (not to the processes it started)."""
        if self.running:
            self.processes()  # remember its children before it can take them down with it
            self.process.send_signal(signum)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to end; its exit code (subprocess.TimeoutExpired after `timeout`)."""
        return self.process.wait(timeout)

    def _signal_group(self, signum: int) -> None:
        """Signal the process and the group it leads (what it started, unless they left the group)."""
        if hasattr(os, "killpg"):
            with suppress(ProcessLookupError):
                os.killpg(self.pid, signum)
        else:
            self.process.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL the process alone, as a crash or an out-of-memory kill does; what it started is left to `stop`."""
        if self.running:
            self.processes()
            self.process.kill()
        if self.process is not None:
            self.process.wait()

    def stop(self, timeout: float = 15.0) -> int | None:
        """The stop signal (a graceful stop), SIGKILL after `timeout` s, then the same for anything it started.

        `killed` then lists the pids that did not stop by themselves and had to be killed.
        """
        if self.process is None:
            return None
        family = self.processes()
        self.killed = []
        if self.running:
            self._signal_group(self.stop_signal)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.killed.append(self.pid)
        self.kill()
        # What it started had the signal too (or watches its parent): whatever is left after a grace period is killed.
        _gone, alive = psutil.wait_procs([p for p in family if p.pid != self.pid], timeout=DESCENDANTS_GRACE)
        for leftover in alive:
            with suppress(psutil.NoSuchProcess):
                leftover.kill()
        psutil.wait_procs(alive, timeout=DESCENDANTS_GRACE)
        self.killed += [leftover.pid for leftover in alive]
        if self._tether is not None:
            os.close(self._tether)
            self._tether = None
        return self.process.returncode

    def read_log(self) -> str:
        """What the process wrote so far."""
        return _read_text(self.log_path)

    def read_stderr(self) -> str:
        """What the process wrote to its stderr so far, when it has a file of its own (else it is in the log)."""
        return "" if self.stderr_path is None else _read_text(self.stderr_path)

    def __enter__(self) -> ChildProcess:
        return self if self.running else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running, pid {self.pid}" if self.running else "stopped" if self.process else "not started"
        return f"<{type(self).__name__} {state}: {self.what}>"


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""

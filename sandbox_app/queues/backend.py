"""What every queue backend is: its workers' lifecycle, its settings, its state; and the worker process they run in."""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import ClassVar

from flask import Flask
from flask_mail import Message
from redis.exceptions import RedisError
from werkzeug.exceptions import ServiceUnavailable

from ..config import SandboxConfig, get_settings
from ..paths import state_dir
from ..processes.channel import LauncherClient
from ..processes.child import ChildProcess
from ..processes.env import settings_env

STORAGE_ERRORS = (RedisError, sqlite3.Error, OSError)
GENERIC_WORKER_PROGRAM = "sandbox_app.programs.queue_worker"
WORKER_COUNT = "QUEUE_WORKER_COUNT"  # what the generic worker program is told to run: mails sent at once


class QueueUnavailable(ServiceUnavailable):
    """The queue's storage (the SQLite file or the Redis server) cannot be reached: answered as 503."""


def unavailable(error: Exception) -> QueueUnavailable:
    """The 503 for a storage error, saying what went wrong."""
    return QueueUnavailable(f"queue unavailable: {type(error).__name__}: {error}")


# Set by the sandbox for an app in processes of its own (waitress, gunicorn): its launcher runs Redis and the
# queues' workers, and the app asks it over the launcher's private channel (processes.channel).
QUEUES_AT_LAUNCHER = "QUEUES_AT_LAUNCHER"


def launcher(app: Flask) -> LauncherClient | None:
    """In an app process of its own: the launcher that owns Redis and the queues' workers; else None."""
    if not app.config.get(QUEUES_AT_LAUNCHER):
        return None
    settings = get_settings(app)
    return LauncherClient(settings.launcher_port, settings.launcher_authkey)


@dataclass(frozen=True)
class WorkersSetting:
    """How many workers a backend runs: its Flask setting, its command-line flag, its default."""

    key: str  # the Flask setting, e.g. "QUEUE_WORKERS"
    flag: str  # the command-line option, e.g. "--queue-workers"
    default: int
    unit: str  # what one of them is, for the help text: "threads of the consumer process"
    at_launch: bool  # started when `python -m sandbox_app` starts (else: with Redis, on the queue's first use)

    @property
    def dest(self) -> str:
        """The attribute argparse stores the flag's value in."""
        return self.flag.removeprefix("--").replace("-", "_")


class WorkerProcess(ChildProcess):
    """A worker process (Huey's consumer, a Celery or an RQ worker) that sends what the app queued.

    `settings` are what it builds the same app from: the sandbox's, with the worker's own Flask settings
    in `app_config` (passed in the environment, never argv: they hold the mail server's login). It reports
    ready through its ready file (`processes.env.report_ready`). `workers` is how many mails it sends at
    once; `queue_name` the queue it works. Its log is removed after a clean stop and kept after any other.
    """

    def __init__(
        self, command: list, settings: SandboxConfig, *, what: str, name: str, workers: int, queue_name: str,
        stop_signal: int = signal.SIGTERM,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.config = dict(settings.app_config)  # the Flask settings it was given on top of the sandbox's
        self.workers = workers
        self.queue_name = queue_name
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

    def horse_pids(self) -> list[int]:
        """The processes it forked to run one send each (RQ's work horses); none for a worker that sends itself."""
        return []

    def typed_command(self) -> list[str]:
        """The command as a person types it."""
        return ["python", *self.command[1:]]

    def __repr__(self) -> str:
        state = f"running, pid {self.pid}" if self.running else "stopped"
        return f"<{type(self).__name__} {state}: queue {self.queue_name}, {self.workers} at once>"


def side_by_side(action, processes: list) -> None:
    """`action` on every process at once, in threads: each start or stop of a worker waits about a second."""
    if processes:
        with ThreadPoolExecutor(len(processes)) as pool:
            list(pool.map(action, processes))  # list(): an exception in any one is raised here


def start_side_by_side(processes: list) -> list:
    """Start every process at once; if one fails, stop them all (none is left half started) and raise."""
    try:
        side_by_side(lambda process: process.start(), processes)
    except BaseException:
        for process in processes:
            process.stop(timeout=0)
        raise
    return processes


class QueueBackend(ABC):
    """One queue library behind the sandbox: where its mail waits, its workers, its settings, its state.

    A backend class is registered under its public pattern name (registry.BACKENDS); the app holds one
    instance of each. Its module holds the code lessons show: the setup, the task, the enqueue
    (`send_email(app, msg)`) and the worker program.
    """

    pattern: ClassVar[str]  # the public name: POST /send/<pattern>, /api/stats, the bench
    library: ClassVar[str]  # its display name, the library's: "Huey", "Celery", "RQ"
    workers_setting: ClassVar[WorkersSetting]
    send: ClassVar[Callable[[Flask, Message], int]]  # the module's `send_email(app, msg)`: POST /send/<pattern>
    needs_redis: ClassVar[bool] = False  # the bench measures such a queue only when asked by name
    sender: ClassVar[str] = "worker"  # which of its processes runs a send: "worker", or RQ's "work horse"
    prefetches: ClassVar[bool] = False  # a worker reserves more mail than it sends at once (Celery)
    # What makes it deliver at least once when a worker dies mid-send: (the web app's settings, the workers').
    at_least_once: ClassVar[tuple[dict, dict] | None] = None

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.workers_count = app.config.setdefault(self.workers_setting.key, self.workers_setting.default)
        self.processes: list[WorkerProcess] = []  # what sends: the workers, and any helper (RQ's scheduler)
        self.killed: list[WorkerProcess] = []  # workers that died, stopped with the next stop: see start_workers
        self.settings: dict = {}  # the Flask settings the running workers were started with on top of the app's
        self.used = False  # its workers were started once: never again behind a lesson's back
        self._lock = threading.RLock()

    # -- sending -----------------------------------------------------------
    @abstractmethod
    def enqueue(self, msg: Message) -> None:
        """Hand the message to the queue, stamped with the time; QueueUnavailable (503) if its storage cannot take it."""

    def enqueue_call(self, function: Callable, *args: object) -> None:
        """Run `function(*args)` in a worker, in an app context (a task such as "welcome user 7"); 503 as `enqueue`.

        `function` is a module-level function of sandbox_app, and `args` plain data: they travel by name and as JSON.
        """
        raise NotImplementedError(f"{self.library} runs no calls")

    def prepare(self) -> str | None:
        """Before the first send: start what the queue needs (Redis and the workers); the Redis URL, if any."""
        return None

    # -- workers -----------------------------------------------------------
    def make_processes(self, count: int, settings: SandboxConfig) -> list[WorkerProcess]:
        """The worker processes to start (with any helper last), `count` of them, not started yet.

        By default one process of the generic program (programs.queue_worker), which calls `work()` with
        `count` as the workers' setting: a backend whose library's command line needs a module attribute
        (huey_consumer, celery -A) starts a program of its own instead.
        """
        command = [sys.executable, "-m", GENERIC_WORKER_PROGRAM]
        settings = settings.with_app_config({WORKER_COUNT: count})  # for work(): how many mails at once
        return [
            WorkerProcess(command, settings, what=f"the {self.library} worker", name=f"{self.pattern}-worker",
                          workers=count, queue_name=settings.queue_name or self.pattern)
        ]  # fmt: skip

    def work(self) -> None:
        """In the worker process (the generic program): run app.config[WORKER_COUNT] workers until stopped,
        reporting ready (`processes.env.report_ready`) once they run."""
        raise NotImplementedError(f"{self.library}'s workers run a program of their own")

    def worker_overrides(self) -> dict:
        """The Flask settings a worker needs beyond the sandbox's: what this backend decided (its queue's names)."""
        return {}

    def worker_settings(self, settings: dict) -> SandboxConfig:
        """What a worker builds its app from: the settings this app was built from, the backend's own Flask
        settings and `settings` on top. A worker starts no workers of its own, and counts where this app counts: the
        seam counts each delivery for this queue (SENDS_FOR_QUEUE), the backend each failure (its library's signals)."""
        config = self.app.config
        overrides = {
            self.workers_setting.key: 0,
            "SENDS_FOR_QUEUE": self.pattern,
            **self.worker_overrides(),
            **settings,
        }
        shared = replace(
            get_settings(self.app), queue_name=config["QUEUE_NAME"], stats_path=config["STATS_PATH"],
            database_url=config["SQLALCHEMY_DATABASE_URI"],  # the tasks read the database the app writes
        )  # fmt: skip
        return shared.with_app_config(overrides)

    def start_workers(self, count: int | None = None, settings: dict | None = None) -> list[WorkerProcess]:
        """(Re)start the workers, `count` of them, with Flask `settings` on top of the app's; ChildError if one fails."""
        with self._lock:
            # A killed worker may have left processes running (RQ's work horses finish their sends): the new
            # workers start meanwhile, as a supervisor's do, and the next stop waits for what is left.
            self.killed += [process for process in self.processes if not process.running]
            self.processes = [process for process in self.processes if process.running]
            self.stop_workers(keep_killed=True)
            done = [process for process in self.killed if not process.processes()]  # nothing of theirs runs now
            side_by_side(lambda process: process.stop(), done)
            self.killed = [process for process in self.killed if process not in done]
            self.used = True
            self.settings = dict(settings or {})
            count = self.workers_count if count is None else count
            started = self.make_processes(count, self.worker_settings(self.settings)) if count else []
            self.processes = start_side_by_side(started)
            return self.workers()

    def ensure_workers(self, count: int | None = None) -> list[WorkerProcess]:
        """The running workers if they run with the app's settings, else new ones that do (re-run safe)."""
        with self._lock:
            running = self.running_workers()
            return running if running and not self.settings else self.start_workers(count)

    def stop_workers(self, timeout: float = 15.0, keep_killed: bool = False) -> None:
        """Stop the workers gracefully (the sends under way finish); queued mail waits for the next ones.

        Whatever killed workers left running is stopped too, unless `keep_killed`.
        """
        with self._lock:
            stopped = self.processes if keep_killed else [*self.processes, *self.killed]
            side_by_side(lambda process: process.stop(timeout), stopped)
            self.processes = []
            if not keep_killed:
                self.killed = []

    def workers(self) -> list[WorkerProcess]:
        """The worker processes started (not helpers such as RQ's scheduler)."""
        return [process for process in self.processes if process.workers]

    def running_workers(self) -> list[WorkerProcess]:
        """The worker processes that are alive now."""
        return [process for process in self.workers() if process.running]

    # -- what it holds -----------------------------------------------------
    @abstractmethod
    def describe(self) -> str:
        """One line for the command line's banner: where the queue lives and its workers."""

    @abstractmethod
    def opened(self) -> bool:
        """Whether its storage exists yet (before: every count is 0, and reading would create it)."""

    @abstractmethod
    def waiting(self) -> int:
        """Mail queued and not taken by a worker yet."""

    @abstractmethod
    def oldest_queued_at(self) -> float | None:
        """When the oldest waiting mail was queued (time.time()), None if none waits."""

    @abstractmethod
    def in_flight(self) -> int:
        """Mail a worker has taken and not finished with."""

    @abstractmethod
    def retries_scheduled(self) -> int:
        """Mail that failed for now and waits for its retry's time."""

    def held(self) -> int:
        """Mail taken by a worker that died: back only after a timeout (Celery's visibility timeout); else 0."""
        return 0

    def discard_held(self) -> int:
        """Drop what `held` counts, so that no later worker sends it when its timeout has passed; how many."""
        return 0

    def unsent(self) -> int:
        """Mail not sent yet that the queue holds for a worker: waiting, or waiting for a retry (RQ: or running).

        GET /api/queue's `waiting` outside `queues` (and the bench's still queued); not what `held` counts.
        """
        return self.waiting() + self.retries_scheduled() if self.opened() else 0

    def state(self, now: float, failed: int) -> dict:
        """Its entry in GET /api/queue's `queues`; `failed` comes from the app's counters."""
        if not self.opened():
            waiting = in_flight = retries = 0
            oldest = None
        else:
            waiting, in_flight, retries, oldest = (
                self.waiting(), self.in_flight(), self.retries_scheduled(), self.oldest_queued_at(),
            )  # fmt: skip
        return {
            "backend": self.library,
            "waiting": waiting,
            "oldest_age_s": round(max(0.0, now - oldest), 3) if oldest is not None else None,
            "in_flight": in_flight,
            "retries_scheduled": retries,
            "failed": failed,
            "workers": [{"pid": process.pid, "threads": process.workers} for process in self.running_workers()],
        }

    def close(self) -> None:
        """Stop the workers; mail still queued is logged, never dropped without a word."""
        self.stop_workers()

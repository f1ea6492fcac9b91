"""Celery's and RQ's workers as processes of their own, started the way their command lines start them."""

from __future__ import annotations

import os
import secrets
import sys
from contextlib import suppress

from .worker_process import WorkerProcess, WorkerSettings

CELERY_MODULE = "sandbox_app.programs.celery_worker"
RQ_MODULE = "sandbox_app.programs.rq_worker"
RQ_SCHEDULER_MODULE = "sandbox_app.programs.rq_scheduler"


class CeleryWorkerProcess(WorkerProcess):
    """`celery worker` with a pool of threads; SIGTERM is its warm shutdown (the tasks under way finish)."""

    def __init__(self, settings: WorkerSettings, workers: int = 4) -> None:
        self.workers = workers
        self.queue_name = settings.app_config["CELERY"]["task_default_queue"]
        super().__init__(self.celery_command(), settings, what="the Celery worker", name=f"celery-{self.queue_name}")

    def celery_command(self) -> list[str]:
        """The command line: threads, not prefork (see the lesson), and none of the cluster chatter."""
        return [
            sys.executable, "-m", "celery", "-A", f"{CELERY_MODULE}:celery_app", "worker",
            # Threads share one process: a few MB each, where every prefork child is a copy of the app.
            "--pool", "threads", "--concurrency", str(self.workers),
            "--queues", self.queue_name, "--hostname", f"{self.queue_name}-{secrets.token_hex(3)}@%h",
            # Mingle and gossip talk to other workers (there are none); heartbeats keep them apart. Off, it
            # starts in about a second on 2 cores.
            "--without-mingle", "--without-gossip", "--without-heartbeat", "--loglevel", "INFO",
        ]  # fmt: skip

    def __repr__(self) -> str:
        state = f"running, pid {self.pid}" if self.running else "stopped"
        return f"<CeleryWorkerProcess {state}: queue {self.queue_name}, {self.workers} threads>"


class RqWorkerProcess(WorkerProcess):
    """One `rq worker`, forking a work horse for each job (SIGTERM: its warm shutdown), or RQ's scheduler."""

    def __init__(self, settings: WorkerSettings, *, scheduler: bool = False) -> None:
        self.workers = 0 if scheduler else 1
        self.queue_name = settings.app_config["RQ_QUEUE"]
        command = [sys.executable, "-m", RQ_SCHEDULER_MODULE if scheduler else RQ_MODULE]
        what = "RQ's scheduler" if scheduler else "an RQ worker"
        super().__init__(command, settings, what=what, name=f"rq-{self.queue_name}")

    def horse_pids(self) -> list[int]:
        """The work horse it forked for the job under way, if any."""
        horses = []
        for member in self.processes():
            with suppress(ProcessLookupError):
                if member.pid != self.pid and os.getpgid(member.pid) == member.pid:  # a horse leads its own group
                    horses.append(member.pid)
        return horses

    def __repr__(self) -> str:
        state = f"running, pid {self.pid}" if self.running else "stopped"
        return f"<RqWorkerProcess {state}: queue {self.queue_name}>"

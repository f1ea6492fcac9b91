"""The rq pattern: the request puts a job on an RQ queue in Redis; an RQ worker forks a work horse that sends it.

RQ's scheduler, which puts a retried job back on the queue when its time comes, runs in a process
of its own beside the workers.
"""

from __future__ import annotations

import os
import smtplib
import sys
from contextlib import suppress
from typing import ClassVar

from flask import Flask, current_app
from flask_mail import Message
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry, Worker
from rq.scheduler import RQScheduler

from ..config import SandboxConfig
from ..mailer.as_data import message_data
from ..mailer.outcomes import describe_error, record_failure
from ..mailer.stats import get_stats
from ..processes.env import report_ready
from .backend import WorkerProcess, WorkersSetting, unavailable
from .delivery import RETRY_DELAYS, import_path, is_temporary, run_call, send_once_guard, send_queued
from .redis_server import RedisBackend

PATTERN = "rq"
WORKER_MODULE = "sandbox_app.programs.rq_worker"
SCHEDULER_MODULE = "sandbox_app.programs.rq_scheduler"
RESULT_TTL = 60  # seconds a finished job stays in Redis (nobody reads its result; see send_email)


# -- the code lessons show ---------------------------------------------------
def deliver(data: dict) -> None:
    """The job, run in a work horse (a fork of a worker holding an app context): send one mail."""
    send_queued(data, guard=send_once_guard())


def after_failure(job, connection, error_type, error, traceback) -> None:
    """RQ's failure callback: RQ retries a failed job while its Retry lasts; a mail refused for good, never.

    Anything else (a job abandoned by a worker that died, a bug) is left to the Retry.
    """
    if isinstance(error, smtplib.SMTPException) and not is_temporary(error):
        job.retries_left = 0  # read by RQ just after this callback


def after_call_failure(job, connection, error_type, error, traceback) -> None:
    """The failure callback of a queued call (`enqueue_call`): only a temporary failure is tried again."""
    if not is_temporary(error):
        job.retries_left = 0


def retry_policy(app: Flask) -> Retry | None:
    """RQ's Retry for the app's QUEUE_RETRIES, waiting as the Huey queue waits; None for no retries."""
    retries = app.config["QUEUE_RETRIES"]
    return Retry(max=retries, interval=list(RETRY_DELAYS[:retries])) if retries else None


def send_email(app: Flask, msg: Message) -> int:
    """Put the mail on the RQ queue as plain data and answer at once; it is tried again up to QUEUE_RETRIES times."""
    retries = app.config["QUEUE_RETRIES"]
    retry = Retry(max=retries, interval=list(RETRY_DELAYS[:retries])) if retries else None
    try:
        # The finished job is kept a minute, not deleted at once (result_ttl=0): after a worker and its horse died
        # together, RQ 3.0's deletion of the retried job fails on the dead run's expired record, and that
        # failure would retry the mail, already sent, again.
        rq_backend(app).job_queue().enqueue(
            deliver, message_data(msg), retry=retry, result_ttl=RESULT_TTL,
            on_failure=Callback(after_failure),
        )  # fmt: skip
    except RedisError as error:
        raise unavailable(error) from None
    return 202


def work(app: Flask) -> None:
    """The worker program: work the queue until stopped; SIGTERM or SIGINT lets the job under way finish."""
    app.app_context().push()  # for every job: the horse is a fork of this process
    worker = PromptWorker([rq_backend(app).job_queue()], connection=rq_backend(app).redis.client())
    report_ready()
    worker.work(with_scheduler=False, logging_level="INFO")  # the scheduler runs in a process of its own


class PromptWorker(Worker):
    """RQ's worker, whose warm shutdown ends within a second, where RQ's may wait a minute.

    It counts each failed job for the sandbox's counters, with RQ's own exception handlers.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, exception_handlers=[count_failure], **kwargs)

    def subscribe(self):
        # RQ listens for its commands in a thread that polls every 60 s, and redis-py 8.2's stop() joins that
        # thread: unsubscribed just before, it waits out the poll. Half a second keeps the stop prompt.
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=0.5, daemon=True, exception_handler=self._pubsub_exception_handler
        )


def count_failure(job, error_type, error, traceback) -> None:
    """RQ's exception handler, run after the failure callback: a failed job counted as retried or failed
    (the seam counts deliveries)."""
    if job.retries_left:
        get_stats().retried(PATTERN, describe_error(error))
    else:
        record_failure(PATTERN, error)


def rq_backend(app: Flask | None = None) -> RqBackend:
    """The app's RQ backend (the current app's when none is given)."""
    return (app or current_app).extensions[RqBackend.extension]


# -- its workers -----------------------------------------------------------------
class RqWorkerProcess(WorkerProcess):
    """One `rq worker`, forking a work horse for each job (SIGTERM: its warm shutdown), or RQ's scheduler."""

    def __init__(self, settings: SandboxConfig, *, scheduler: bool = False) -> None:
        queue_name = settings.app_config["RQ_QUEUE"]
        command = [sys.executable, "-m", SCHEDULER_MODULE if scheduler else WORKER_MODULE]
        what = "RQ's scheduler" if scheduler else "an RQ worker"
        super().__init__(
            command, settings, what=what, name=f"rq-{queue_name}", workers=0 if scheduler else 1, queue_name=queue_name
        )

    def horse_pids(self) -> list[int]:
        """The work horse it forked for the job under way, if any."""
        horses = []
        for member in self.processes():
            with suppress(ProcessLookupError):
                if member.pid != self.pid and os.getpgid(member.pid) == member.pid:  # a horse leads its own group
                    horses.append(member.pid)
        return horses


# -- the backend -----------------------------------------------------------------
class RqBackend(RedisBackend):
    """RQ on Redis: worker processes, each forking a work horse per job, and RQ's scheduler for the retries."""

    pattern = PATTERN
    library = "RQ"
    send = staticmethod(send_email)
    extension: ClassVar[str] = "sandbox_rq"
    workers_setting = WorkersSetting(
        "RQ_WORKERS", "--rq-workers", 2, "worker processes, one mail at a time each", False
    )
    sender = "work horse"
    at_least_once = ({"QUEUE_RETRIES": 3}, {})  # a Retry on the job: RQ retries a job whose work horse died

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self.queue_name = app.config.setdefault("RQ_QUEUE", f"{app.config['QUEUE_NAME']}-rq")
        app.extensions[self.extension] = self
        self._job_queue: Queue | None = None

    def job_queue(self) -> Queue:
        """The RQ Queue in the app's Redis (started, with the workers, on first use in a web process)."""
        with self._lock:
            if self._job_queue is None:
                if not self.app.config.get("REDIS_URL"):  # a worker is told its Redis; a web process prepares it
                    self.prepare()
                self._job_queue = Queue(self.queue_name, connection=self.redis.client())
            return self._job_queue

    def enqueue(self, msg: Message) -> None:
        send_email(self.app, msg)

    def enqueue_call(self, function, *args) -> None:
        path = import_path(function)
        try:
            self.job_queue().enqueue(
                run_call, path, list(args), retry=retry_policy(self.app), result_ttl=RESULT_TTL,
                on_failure=Callback(after_call_failure),
            )  # fmt: skip
        except RedisError as error:
            raise unavailable(error) from None

    def work(self) -> None:
        work(self.app)  # what programs.rq_worker runs, for the generic program too

    def worker_overrides(self) -> dict:
        return {**super().worker_overrides(), "RQ_QUEUE": self.queue_name}

    def make_processes(self, count: int, settings: SandboxConfig) -> list[WorkerProcess]:
        # A scheduler killed with its worker keeps its lock for a minute, and no retry runs meanwhile.
        # None of this sandbox's workers runs now: the lock is stale.
        self.redis.client().delete(RQScheduler.get_locking_key(self.queue_name))
        return [*(RqWorkerProcess(settings) for _ in range(count)), RqWorkerProcess(settings, scheduler=True)]

    # Where RQ's mail is: each job waits in the queue's Redis list, runs listed in the started registry,
    # and waits for its retry's time in the scheduled registry; a job records when it was enqueued.
    def _queue(self) -> Queue:
        return Queue(self.queue_name, connection=self.redis.client())

    def waiting(self) -> int:
        return self._queue().count

    def oldest_queued_at(self) -> float | None:
        queue = self._queue()
        oldest = queue.get_job_ids(0, 1)
        job = queue.fetch_job(oldest[0]) if oldest else None
        return job.enqueued_at.timestamp() if job is not None and job.enqueued_at else None

    def in_flight(self) -> int:
        return self._queue().started_job_registry.count

    def retries_scheduled(self) -> int:
        return self._queue().scheduled_job_registry.count

    def unsent(self) -> int:
        # A job stays in the started registry while its horse runs it, and after the horse died until its worker
        # (or the next one) fails or retries it: not sent yet either way.
        return super().unsent() + self.in_flight() if self.opened() else 0

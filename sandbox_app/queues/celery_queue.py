"""The celery pattern: the request hands the mail to a Celery task on Redis; a Celery worker process sends it.

Set up as Flask's documentation sets up Celery: `celery_init_app` makes a Celery app whose tasks
run inside the Flask app's context, and the task is a `shared_task`.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from datetime import datetime
from typing import ClassVar

from celery import Celery, Task, shared_task
from celery.signals import (
    before_task_publish,
    task_failure,
    task_postrun,
    task_prerun,
    task_retry,
    worker_ready,
)
from flask import Flask, current_app
from flask_mail import Message
from kombu.exceptions import OperationalError

from ..config import SandboxConfig
from ..mailer.as_data import message_data
from ..mailer.outcomes import describe_error, record_failure
from ..mailer.stats import get_stats
from ..processes.env import report_ready
from .backend import WorkerProcess, WorkersSetting, unavailable
from .delivery import RETRY_DELAYS, import_path, is_temporary, run_call, send_once_guard, send_queued
from .names import process_alive
from .redis_server import RedisBackend

PATTERN = "celery"
WORKER_MODULE = "sandbox_app.programs.celery_worker"  # its `celery_app`: what `celery -A` runs
TASK_NAME = "sandbox.deliver_email"
CALL_TASK_NAME = "sandbox.run_call"  # a queued call (enqueue_call): "welcome user 7"
TASK_NAMES = (TASK_NAME, CALL_TASK_NAME)
# A worker waits for a task with Redis's BRPOP, up to this long per call (kombu's default: 1 s), and a warm
# shutdown waits for that call to return: a shorter wait lets the lessons restart their workers promptly.
BROKER_POLLING = {"polling_interval": 0.2}
VISIBILITY_TIMEOUT = 2  # seconds, for lesson 15's at-least-once setting; Redis's default in kombu is an hour
# Celery on Redis, at least once: acknowledged after the task returns, and a task nobody acknowledged handed
# out again once the visibility timeout has passed (checked on every idle poll, not every tenth).
ACKS_LATE = {
    "task_acks_late": True,
    "broker_transport_options": {
        **BROKER_POLLING,  # replaces the app's options: keep its polling
        "visibility_timeout": VISIBILITY_TIMEOUT,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    },
}


# -- the code lessons show ---------------------------------------------------
def celery_init_app(app: Flask) -> Celery:
    """A Celery app for `app`: its settings from app.config["CELERY"], each task run inside an app context."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


@shared_task(bind=True, name=TASK_NAME, ignore_result=True)
def deliver(self, data: dict) -> None:
    """The task, run by a Celery worker inside an app context: send one mail; retry a temporary failure later."""
    try:
        send_queued(data, guard=send_once_guard())
    except Exception as error:
        if not is_temporary(error):
            raise  # permanent: the task fails
        retries = current_app.config["QUEUE_RETRIES"]
        countdown = RETRY_DELAYS[min(self.request.retries, len(RETRY_DELAYS) - 1)]
        raise self.retry(exc=error, countdown=countdown, max_retries=retries) from error  # past them: fails


@shared_task(bind=True, name=CALL_TASK_NAME, ignore_result=True)
def run_task(self, path: str, args: list) -> None:
    """The task for a queued call (`enqueue_call`), run inside an app context: as `deliver`, a temporary failure retried."""
    try:
        run_call(path, args)
    except Exception as error:
        if not is_temporary(error):
            raise
        countdown = RETRY_DELAYS[min(self.request.retries, len(RETRY_DELAYS) - 1)]
        raise self.retry(exc=error, countdown=countdown, max_retries=current_app.config["QUEUE_RETRIES"]) from error


def send_email(app: Flask, msg: Message) -> int:
    """Hand the mail to Celery as plain data (its JSON cannot carry a Message) and answer at once."""
    celery_app = get_celery(app)
    try:
        # The task as this app's Celery registered it: another sandbox in this process has a Celery app of its own.
        celery_app.tasks[deliver.name].apply_async(args=[message_data(msg)])
    except OperationalError as error:
        raise unavailable(error) from None
    return 202


def worker_celery(app: Flask) -> Celery:
    """The worker program: the app's Celery app, for `celery -A <module>:celery_app worker`; it reports ready."""
    celery_app = get_celery(app)
    worker_ready.connect(lambda **_: report_ready(), weak=False)  # once its pool runs
    count_outcomes(app)
    return celery_app


def default_settings(queue_name: str) -> dict:
    """The app's CELERY settings: Celery's defaults, but for what this app changes (each says why)."""
    return {
        "broker_url": None,  # the Redis is known when the queue is first used (see get_celery)
        "task_default_queue": f"{queue_name}-celery",  # two sandboxes on one Redis keep their mail apart
        "task_ignore_result": True,  # nobody reads a result: storing it would only fill Redis
        "task_acks_late": False,  # Celery's default: acknowledged just before it runs (lesson 15 turns it on)
        "broker_connection_retry_on_startup": True,
        # A Redis that is gone: the view answers 503 within seconds instead of retrying for a minute.
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.2},
        "broker_connection_timeout": 2,
        "broker_transport_options": dict(BROKER_POLLING),
        "worker_hijack_root_logger": False,
    }


def get_celery(app: Flask) -> Celery:
    """The app's Celery app, its broker the app's Redis (started, with the worker, on first use)."""
    celery_app = app.extensions.get("celery")
    if celery_app is None:
        celery_app = celery_init_app(app)
    if not celery_app.conf.broker_url:
        celery_app.conf.broker_url = app.config.get("REDIS_URL") or celery_backend(app).prepare()
    return celery_app


# -- the sandbox's bookkeeping: counted through Celery's own signals ---------------------------------
@before_task_publish.connect
def stamp_queued_at(sender=None, headers=None, **_kwargs) -> None:
    """Celery's message carries no time it was queued: add one, for the age of the oldest waiting mail."""
    if sender in TASK_NAMES and headers is not None:
        headers["queued_at"] = time.time()


def count_outcomes(app: Flask) -> None:
    """In the worker: count each failed run as retried or failed (the seam counts deliveries), and keep the runs
    under way in Redis."""
    redis = celery_backend(app).redis.client()
    running = celery_backend(app).running_key

    def ours(sender) -> bool:
        return getattr(sender, "name", None) in TASK_NAMES

    def started(sender=None, task_id=None, **_kwargs) -> None:
        if ours(sender):
            redis.hset(running, task_id, os.getpid())

    def ended(sender=None, task_id=None, **_kwargs) -> None:
        if ours(sender):
            redis.hdel(running, task_id)

    def retried(sender=None, reason=None, **_kwargs) -> None:
        if ours(sender):
            get_stats(app).retried(PATTERN, describe_error(reason))

    def failed(sender=None, exception=None, **_kwargs) -> None:
        if ours(sender):
            record_failure(PATTERN, exception, app)

    for signal, handler in ((task_prerun, started), (task_postrun, ended), (task_retry, retried), (task_failure, failed)):  # fmt: skip
        signal.connect(handler, weak=False)


def celery_backend(app: Flask | None = None) -> CeleryBackend:
    """The app's Celery backend (the current app's when none is given)."""
    return (app or current_app).extensions[CeleryBackend.extension]


# -- its worker ------------------------------------------------------------------
class CeleryWorkerProcess(WorkerProcess):
    """`celery worker` with a pool of threads; SIGTERM is its warm shutdown (the tasks under way finish)."""

    def __init__(self, settings: SandboxConfig, workers: int = 4) -> None:
        queue_name = settings.app_config["CELERY"]["task_default_queue"]
        super().__init__(
            self.celery_command(queue_name, workers), settings, what="the Celery worker", name=f"celery-{queue_name}",
            workers=workers, queue_name=queue_name,
        )  # fmt: skip

    @staticmethod
    def celery_command(queue_name: str, workers: int) -> list[str]:
        """The command line: threads, not prefork (see the lesson), and none of the cluster chatter."""
        return [
            sys.executable, "-m", "celery", "-A", f"{WORKER_MODULE}:celery_app", "worker",
            # Threads share one process: a few MB each, where every prefork child is a copy of the app.
            "--pool", "threads", "--concurrency", str(workers),
            "--queues", queue_name, "--hostname", f"{queue_name}-{secrets.token_hex(3)}@%h",
            # Mingle and gossip talk to other workers (there are none); heartbeats keep them apart. Off, it
            # starts in about a second on 2 cores.
            "--without-mingle", "--without-gossip", "--without-heartbeat", "--loglevel", "INFO",
        ]  # fmt: skip

    def typed_command(self) -> list[str]:
        """The command as a person types it: `celery ...`."""
        return ["celery", *self.command[3:]]


# -- the backend -----------------------------------------------------------------
class CeleryBackend(RedisBackend):
    """Celery on Redis: one worker process with a pool of threads."""

    pattern = PATTERN
    library = "Celery"
    send = staticmethod(send_email)
    extension: ClassVar[str] = "sandbox_celery"
    workers_setting = WorkersSetting("CELERY_WORKERS", "--celery-workers", 4, "threads of the worker process", False)
    prefetches = True  # a worker reserves mail beyond its threads (prefetch): the rest waits in kombu's unacked
    at_least_once = ({}, {"CELERY": ACKS_LATE})

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        config = app.config
        config["CELERY"] = {**default_settings(config["QUEUE_NAME"]), **config.get("CELERY", {})}
        self.queue_name = config["CELERY"]["task_default_queue"]
        self.running_key = f"{self.queue_name}:running"  # task id -> pid of the worker running it
        app.extensions[self.extension] = self
        celery_init_app(app)

    def enqueue(self, msg: Message) -> None:
        send_email(self.app, msg)

    def enqueue_call(self, function, *args) -> None:
        path = import_path(function)
        celery_app = get_celery(self.app)
        try:
            celery_app.tasks[run_task.name].apply_async(args=[path, list(args)])
        except OperationalError as error:
            raise unavailable(error) from None

    def worker_settings(self, settings: dict) -> SandboxConfig:
        # CELERY given to a worker changes some of the app's Celery settings, not all of them.
        return super().worker_settings(
            {**settings, "CELERY": {**self.app.config["CELERY"], **settings.get("CELERY", {})}}
        )

    def make_processes(self, count: int, settings: SandboxConfig) -> list[WorkerProcess]:
        return [CeleryWorkerProcess(settings, count)]

    # Where Celery's mail is: waiting in the Redis list of its queue; taken by a worker, in kombu's "unacked"
    # hash until acknowledged (before the run by default, after it with acks_late). A retry with a countdown is
    # a new message the worker reserves at once and holds until its time: in "unacked", with an eta, never in
    # the list. A task running after an early acknowledgement is in neither: the worker notes it (count_outcomes).
    def _reserved(self) -> list[dict]:
        """The messages of this queue in kombu's unacked hash."""
        messages = []
        for value in self.redis.client().hvals("unacked"):
            payload, _exchange, routing_key = json.loads(value)
            if routing_key == self.queue_name:
                messages.append(payload)
        return messages

    def _scheduled(self, payload: dict, now: float) -> bool:
        eta = payload["headers"].get("eta")
        return bool(eta) and _timestamp(eta) > now

    def waiting(self) -> int:
        return self.redis.client().llen(self.queue_name)

    def oldest_queued_at(self) -> float | None:
        oldest = self.redis.client().lindex(self.queue_name, -1)  # kombu pushes on the left, takes from the right
        return json.loads(oldest)["headers"].get("queued_at") if oldest else None

    def in_flight(self) -> int:
        now = time.time()
        reserved = {m["headers"]["id"] for m in self._reserved() if not self._scheduled(m, now)}
        running = {
            task_id.decode() for task_id, pid in self.redis.client().hgetall(self.running_key).items()
            if process_alive(int(pid))  # a worker killed mid-run never ended its note
        }  # fmt: skip
        return len(reserved | running)

    def retries_scheduled(self) -> int:
        now = time.time()
        return sum(1 for message in self._reserved() if self._scheduled(message, now))

    def held(self) -> int:
        return len(self._reserved()) if self.opened() else 0

    def discard_held(self) -> int:
        if not self.opened():
            return 0
        client = self.redis.client()
        tags = [tag for tag, value in client.hgetall("unacked").items() if json.loads(value)[2] == self.queue_name]
        if tags:  # kombu keeps each in two places: the message, and when it was taken
            client.pipeline().hdel("unacked", *tags).zrem("unacked_index", *tags).execute()
        return len(tags)


def _timestamp(iso: str) -> float:
    """Seconds since the epoch of an ISO 8601 time, as Celery writes an eta."""
    return datetime.fromisoformat(iso).timestamp()

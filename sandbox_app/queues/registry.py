"""The queue backends by public pattern name: the one place a pattern name becomes a backend.

Everything else (the sandbox, the CLI, the bench, the lab, GET /api/queue) iterates over BACKENDS.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask, current_app
from flask_mail import Message

from ..mailer.background import get_background
from ..mailer.outcomes import record_failure
from ..mailer.stats import get_stats
from ..processes.channel import LauncherChannel
from .backend import STORAGE_ERRORS, QueueBackend, launcher, unavailable
from .celery_queue import CeleryBackend
from .huey_queue import HueyBackend
from .names import check_queue_name, new_queue_name
from .redis_server import EXTENSION as REDIS_EXTENSION
from .rq_queue import RqBackend

BACKENDS: dict[str, type[QueueBackend]] = {
    HueyBackend.pattern: HueyBackend,
    CeleryBackend.pattern: CeleryBackend,
    RqBackend.pattern: RqBackend,
}
# The queue the course meets first (lesson 10), and the one `start_consumer()` starts: it needs no Redis.
FIRST_QUEUE = HueyBackend.pattern
EXTENSION = "sandbox_queues"


def queue_senders() -> dict[str, Callable]:
    """Each queue's `send_email(app, msg)` by pattern name, for POST /send/<pattern>."""
    return {pattern: backend.send for pattern, backend in BACKENDS.items()}


def init_queues(app: Flask) -> dict[str, QueueBackend]:
    """Give the app one backend per queue, closed (workers stopped, Redis too) when the app stops."""
    app.config.setdefault("QUEUE_SEND_ONCE", False)  # lesson 17: skip a mail already sent (True, "claim", "database")
    app.config.setdefault("QUEUE_TASK_TAIL", 0.0)  # lesson 17: seconds of other work a task does after its send
    # One name for the app's queues (Huey's; Celery's and RQ's are made from it): given, to share them with other
    # processes, else made up, this sandbox's alone.
    app.config["QUEUE_NAME"] = check_queue_name(app.config.get("QUEUE_NAME") or new_queue_name())
    backends = {pattern: backend(app) for pattern, backend in BACKENDS.items()}
    app.extensions[EXTENSION] = backends
    get_background(app).on_stop(lambda: close_queues(app))
    return backends


def get_backend(pattern: str, app: Flask | None = None) -> QueueBackend:
    """The app's backend for a queue pattern; ValueError naming the choices for any other name."""
    backends = (app or current_app).extensions[EXTENSION]
    if pattern not in backends:
        raise ValueError(f"no queue {pattern!r}: choose one of {', '.join(backends)}")
    return backends[pattern]


def hand_over(pattern: str, msg: Message) -> None:
    """Put a mail on the current app's queue named by its pattern ("queue", "celery", "rq"): counted as accepted once
    the queue has it (its worker counts the send); QueueUnavailable (503) if the queue cannot take it, counted
    nowhere: the outbox relay that calls this tries again, and counts what it gives up on."""
    app = current_app._get_current_object()
    get_backend(pattern, app).enqueue(msg)
    get_stats(app).accepted(pattern)


def enqueue_task(pattern: str, function: Callable, *args: object) -> None:
    """Have a worker of the current app's queue `pattern` run `function(*args)`, counted as one mail accepted: the
    worker counts it delivered when it sends, failed when it raises for good; QueueUnavailable (503) as `hand_over`."""
    app = current_app._get_current_object()
    backend = get_backend(pattern, app)  # ValueError for an unknown name, before anything is counted
    get_stats(app).accepted(pattern)
    try:
        backend.enqueue_call(function, *args)
    except Exception as error:
        record_failure(pattern, error, app)
        raise


def get_backends(app: Flask | None = None) -> dict[str, QueueBackend]:
    """Every backend of the app, by pattern name."""
    return (app or current_app).extensions[EXTENSION]


def queues_state(app: Flask | None = None) -> dict:
    """GET /api/queue: Huey's queue under the keys the README names, Celery's and RQ's under `redis_queues`,
    and every backend under `queues`. In an app process of its own, the launcher's answer (it runs the workers)."""
    app = app or current_app
    client = launcher(app)
    if client is not None:
        try:
            return client.call("queue.state")
        except OSError as error:
            raise unavailable(error) from None
    backends = get_backends(app)
    counters = get_stats(app).snapshot()
    now = time.time()
    try:
        first = backends[FIRST_QUEUE]
        redis_queues = {
            pattern: {
                "backend": f"{backend.library} on Redis",
                "redis": backend.redis.address,
                "waiting": backend.unsent(),
                "workers": [{"pid": p.pid, "threads": p.workers} for p in backend.running_workers()],
            }
            for pattern, backend in backends.items()
            if backend.needs_redis
        }
        queues = {pattern: backend.state(now, counters[pattern]["failed"]) for pattern, backend in backends.items()}
    except STORAGE_ERRORS as error:
        raise unavailable(error) from None
    return {**first.legacy_state(), "redis_queues": redis_queues, "queues": queues}


def serve_queues(channel: LauncherChannel, app: Flask) -> None:
    """On the launcher: answer an app process's "queue.prepare" (start Redis and that queue's workers, answer
    the Redis URL) and "queue.state" (GET /api/queue) with the launcher's own app, which runs them."""
    channel.serve("queue.prepare", lambda pattern: get_backend(pattern, app).prepare())
    channel.serve("queue.state", lambda: queues_state(app))


def close_queues(app: Flask) -> None:
    """Stop every queue's workers, then the Redis they shared (if this sandbox started it)."""
    for backend in get_backends(app).values():
        backend.close()
    redis = app.extensions.get(REDIS_EXTENSION)
    if redis is not None:
        redis.close()

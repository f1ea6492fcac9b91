"""The pool pattern: a bounded ThreadPoolExecutor owned by the app sends; its futures count the failures."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import partial

from flask import Flask, current_app

from ..mailer.background import get_background
from ..mailer.connection import mail
from ..mailer.outcomes import record_failure
from ..mailer.stats import get_stats

EXTENSION = "sandbox_pool"

DEFAULT_POOL_SIZE = 8
DEFAULT_DRAIN_TIMEOUT = 30.0  # seconds a stopping app waits for queued sends before cancelling them


def send_async_email(app, msg):
    """Run on a pool thread: send inside an app context; an exception stays in the future."""
    with app.app_context():
        mail.send(msg)


def record_outcome(app, future: Future):
    """The future's done callback: count the send as delivered or failed, and log a failure."""
    if future.cancelled():
        record_failure("pool", "cancelled: the app stopped before this mail was sent", app)
    elif future.exception() is not None:
        record_failure("pool", future.exception(), app)
    else:
        get_stats(app).delivered("pool")


def send_email(app, msg):
    """Hand the message to one of the pool's threads and answer at once."""
    future = get_pool(app).submit(send_async_email, app, msg)
    future.add_done_callback(partial(record_outcome, app))
    return 202


class MailPool(ThreadPoolExecutor):
    """The app's pool: a fixed number of sending threads, and a drain for shutdown."""

    def __init__(self, size: int) -> None:
        super().__init__(max_workers=size, thread_name_prefix="sandbox-mail-pool")
        self._pending: set[Future] = set()
        self._lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future = super().submit(fn, *args, **kwargs)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def drain(self, timeout: float) -> None:
        """Let the queued sends finish (up to `timeout` s), cancel what is left, and stop the threads."""
        with self._lock:
            pending = list(self._pending)
        wait(pending, timeout)
        # A send still queued now is cancelled; its callback counts it as failed, never silently gone.
        self.shutdown(wait=True, cancel_futures=True)


def init_app(app):
    """Give the app its pool, drained when the app stops (pending sends finish first)."""
    pool = MailPool(app.config.setdefault("MAIL_POOL_SIZE", DEFAULT_POOL_SIZE))
    drain_timeout = app.config.setdefault("MAIL_POOL_DRAIN_TIMEOUT", DEFAULT_DRAIN_TIMEOUT)
    app.extensions[EXTENSION] = pool
    get_background(app).on_stop(partial(pool.drain, drain_timeout))


def get_pool(app: Flask | None = None) -> MailPool:
    """The app's mail pool (the current app's when none is given)."""
    return (app or current_app).extensions[EXTENSION]

"""The pool pattern: a ThreadPoolExecutor owned by the app sends; a failed send's exception waits in its future.

The number of threads is fixed; the queue in front of them is unbounded unless MAIL_POOL_QUEUE_SIZE bounds it,
and then a request that finds it full is answered 503 (PoolFull) instead of waiting in memory.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait

from flask import Flask, current_app
from werkzeug.exceptions import ServiceUnavailable

from ..mailer import mail

EXTENSION = "sandbox_pool"

DEFAULT_POOL_SIZE = 8
DEFAULT_QUEUE_SIZE = None  # no bound, as ThreadPoolExecutor has none: a burst waits in memory, however long
DEFAULT_DRAIN_TIMEOUT = 30.0  # seconds a stopping app waits for queued sends before cancelling them


class PoolFull(ServiceUnavailable):
    """Every thread is busy and the queue in front of them is full: answered 503, with Retry-After."""


def send_async_email(app, msg):
    """Run on a pool thread: send inside an app context; an exception stays in the future."""
    with app.app_context():
        mail.send(msg)


def send_email(app, msg):
    """Hand the message to one of the pool's threads and answer at once (503 if a bounded queue is full)."""
    get_pool(app).submit(send_async_email, app, msg)  # PoolFull (503): not sent, and the client may try again
    return 202


class MailPool(ThreadPoolExecutor):
    """The app's pool: a fixed number of sending threads, an optional bound on the mail waiting, a drain on stop."""

    def __init__(self, size: int, queue_size: int | None = DEFAULT_QUEUE_SIZE) -> None:
        super().__init__(max_workers=size, thread_name_prefix="sandbox-mail-pool")
        self.size = size
        self.queue_size = queue_size  # how many sends may wait for a thread; None: any number
        self.peak = 0  # the most mails held in memory at once (sending or waiting), since reset_peak
        self._pending: set[Future] = set()
        self._lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        """Queue `fn` for a thread; PoolFull when `queue_size` sends already wait."""
        with self._lock:  # the check and the add in one step: two requests cannot both take the last place
            if self.queue_size is not None and len(self._pending) >= self.size + self.queue_size:
                full = f"the mail pool is full: {self.queue_size} mails already wait for a thread"
                raise PoolFull(full, retry_after=1)
            future = super().submit(fn, *args, **kwargs)
            self._pending.add(future)
            self.peak = max(self.peak, len(self._pending))
        future.add_done_callback(self._forget)  # outside the lock: a finished future calls it at once
        return future

    def held(self) -> int:
        """Mails in this process's memory now: being sent or waiting for a thread (a crash loses them all)."""
        with self._lock:
            return len(self._pending)

    def reset_peak(self) -> None:
        """Start measuring the peak from what is held now."""
        with self._lock:
            self.peak = len(self._pending)

    def _forget(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def drain(self, timeout: float) -> list[Future]:
        """Let the queued sends finish (up to `timeout` s), cancel what is left, stop the threads; returns the cancelled."""
        with self._lock:
            pending = list(self._pending)
        wait(pending, timeout)
        self.shutdown(wait=True, cancel_futures=True)
        return [future for future in pending if future.cancelled()]


def init_app(app) -> MailPool:
    """Give the app its pool (drain it when the app stops: pending sends finish first)."""
    pool = MailPool(
        app.config.setdefault("MAIL_POOL_SIZE", DEFAULT_POOL_SIZE),
        app.config.setdefault("MAIL_POOL_QUEUE_SIZE", DEFAULT_QUEUE_SIZE),
    )
    app.config.setdefault("MAIL_POOL_DRAIN_TIMEOUT", DEFAULT_DRAIN_TIMEOUT)
    app.extensions[EXTENSION] = pool
    return pool


def get_pool(app: Flask | None = None) -> MailPool:
    """The app's mail pool (the current app's when none is given)."""
    return (app or current_app).extensions[EXTENSION]

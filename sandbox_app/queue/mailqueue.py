"""The app's durable mail queue: a Huey instance (SQLite by default, Redis when configured) and its consumer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from flask import Flask, current_app
from huey.api import Huey

from ..config import get_settings
from ..mailer.background import get_background
from ..processes.consumer import ConsumerProcess
from .storage import (
    STORAGE_ERRORS,
    check_queue_name,
    make_huey,
    new_queue_name,
    sqlite_path,
    sweep_leftovers,
    unavailable,
)

EXTENSION = "sandbox_queue"
DEFAULT_WORKERS = 8
DEFAULT_RETRIES = 3
DEFAULT_RETRY_DELAY = 1.0  # seconds before the first retry; doubled for each next one

_swept = False  # leftovers of killed sandboxes are looked for once per process


class MailQueue:
    """One app's queue: where messages wait, the task that sends them, and the consumer the runner starts."""

    def __init__(self, app: Flask, deliver: Callable) -> None:
        config = app.config
        self.app = app
        self.deliver = deliver  # the pattern's task body: deliver(msg, task)
        # A name given in the config may be shared with other processes; a made-up one is this app's alone.
        self.shared = bool(config.setdefault("QUEUE_NAME", None))
        self.name = check_queue_name(config["QUEUE_NAME"] or new_queue_name())
        config["QUEUE_NAME"] = self.name
        self.url = config.setdefault("QUEUE_URL", None)
        self.retries = config.setdefault("QUEUE_RETRIES", DEFAULT_RETRIES)
        self.retry_delay = config.setdefault("QUEUE_RETRY_DELAY", DEFAULT_RETRY_DELAY)
        self.workers = config.setdefault("QUEUE_WORKERS", DEFAULT_WORKERS)
        self.consumer = None  # the ConsumerProcess started for this app, if any
        self.consumer_started = False
        self.consumer_settings: dict = {}  # what the running consumer was started with on top of the app's config
        self._huey: Huey | None = None
        self._task = None
        self._lock = threading.Lock()

    @property
    def huey(self) -> Huey:
        """The Huey instance, opened on first use (an app that never queues creates no file)."""
        with self._lock:  # four request threads may ask at once
            if self._huey is None:
                self._huey, self._task = self._open()
            return self._huey

    def _open(self):
        """A Huey instance for this queue and the task it runs, `deliver` inside this app's context."""
        self._sweep_once()
        huey = make_huey(self.name, self.url)
        app, deliver = self.app, self.deliver

        def deliver_email(msg, task=None):
            with app.app_context():
                deliver(msg, task)

        task = huey.task(
            retries=self.retries, retry_delay=self.retry_delay, retry_backoff=2, context=True, name="deliver_email"
        )(deliver_email)
        return huey, task

    def _sweep_once(self) -> None:
        """Before this app's queue is first used, clear what killed sandboxes left (logged in the app's log)."""
        global _swept
        if not self.shared and not _swept:
            _swept = True
            sweep_leftovers(self.app.logger)

    @property
    def opened(self) -> bool:
        """Whether this process has opened the queue's storage."""
        return self._huey is not None

    def exists(self) -> bool:
        """Whether the queue's storage is open here or exists (a SQLite file another process made counts)."""
        return self.opened or self.url is not None or sqlite_path(self.name).exists()

    @property
    def storage(self):
        """Huey's storage: the SQLite database or the Redis keys of this queue."""
        return self.huey.storage

    def enqueue(self, msg) -> None:
        """Store the message for a consumer; QueueUnavailable (503) when the storage cannot take it."""
        try:
            self.huey.enqueue(self._task.s(msg))
        except STORAGE_ERRORS as error:
            raise unavailable(error) from None

    def waiting(self) -> int:
        """Messages not sent yet: queued, plus scheduled for a retry."""
        return self.huey.pending_count() + self.huey.scheduled_count()

    def consumer_config(self) -> dict:
        """What a consumer process needs to build the same app: the mail server, this queue, the counters file."""
        keys = (
            "MAIL_SERVER",
            "MAIL_PORT",
            "MAIL_TIMEOUT",
            "MAIL_DEFAULT_SENDER",
            "QUEUE_NAME",
            "QUEUE_URL",
            "STATS_PATH",
        )
        config = {key: self.app.config[key] for key in keys}
        # The mail server's login, if it asks for one (the sandbox key); passed in the environment, never argv.
        config.update(
            {key: self.app.config[key] for key in ("MAIL_USERNAME", "MAIL_PASSWORD") if key in self.app.config}
        )
        return config

    def start_consumer(self, workers: int | None = None, settings: dict | None = None):
        """Start a consumer process for this queue, or return the one running (re-run safe).

        `settings` (Flask settings on top of the app's, e.g. HUEY_OPTIONS) restart it if it runs with others.
        """
        settings = dict(settings or {})
        running = self.consumer is not None and self.consumer.running
        if running and settings != self.consumer_settings:
            self.stop_consumer()
            running = False
        if not running:
            self._sweep_once()
            self.consumer_settings = settings
            worker_settings = get_settings(self.app).with_app_config({**self.consumer_config(), **settings})
            self.consumer = ConsumerProcess(worker_settings, workers or self.workers).start()
            self.consumer_started = True  # it opened the storage, even if this process never did
        return self.consumer

    def stop_consumer(self, timeout: float = 15.0) -> None:
        """Stop the consumer gracefully: the sends in progress finish, the rest stay queued."""
        if self.consumer is not None:
            self.consumer.stop(timeout)
            self.consumer = None

    def close(self) -> None:
        """Stop the consumer; remove this app's own queue, keep a shared one (a name from the config).

        Mail left unsent is logged either way: it is never dropped without a word.
        """
        self.stop_consumer()
        made = self.opened or self.consumer_started or (self.url is None and sqlite_path(self.name).exists())
        if not made or (self.shared and not self.opened):
            return  # nothing made, or another process's queue
        try:
            waiting = self.waiting()
        except STORAGE_ERRORS as error:
            self.app.logger.warning("queue %s: cannot check for waiting mail: %s", self.name, error)
            return
        if self.shared:
            if waiting:
                self.app.logger.warning(
                    "queue %s: %d mail(s) still queued; kept for the next consumer", self.name, waiting
                )
        else:
            if waiting:  # nobody else knows this queue's name: no consumer could ever send them
                self.app.logger.warning(
                    "queue %s: %d mail(s) never sent: no consumer ran; discarded", self.name, waiting
                )
            self.storage.flush_all()
        self.storage.close()
        if self.url is None and not self.shared:
            path = sqlite_path(self.name)
            for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                leftover.unlink(missing_ok=True)
        self._huey = None

    def state(self) -> dict:
        """Where the queue lives, how much mail waits in it, and the consumer this app started."""
        consumer = self.consumer if self.consumer is not None and self.consumer.running else None
        return {
            "name": self.name,
            "storage": self.url or "sqlite",
            "waiting": self.waiting() if self.exists() else 0,
            "consumer": {"pid": consumer.pid, "workers": consumer.workers} if consumer else None,
        }


def init_queue(app: Flask, deliver: Callable) -> MailQueue:
    """Give the app its queue, whose task runs `deliver(msg, task)`, closed on stop."""
    mail_queue = MailQueue(app, deliver)
    app.extensions[EXTENSION] = mail_queue
    get_background(app).on_stop(mail_queue.close)
    return mail_queue


def get_queue(app: Flask | None = None) -> MailQueue:
    """The app's mail queue (the current app's when none is given)."""
    return (app or current_app).extensions[EXTENSION]

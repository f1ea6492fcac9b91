"""The Redis the Celery and RQ queues share, and their workers: started when a queue is first used, stopped with the app.

A learner who never reaches those lessons pays no memory for them. In an app process of its own
(waitress, gunicorn) the launcher owns Redis and the workers: the app asks it over its API.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import redis
import rq
from flask import Flask, current_app
from rq.scheduler import RQScheduler

from ..config import get_settings
from ..launcher_api import LauncherApi
from ..mailer.background import get_background
from ..processes.child import ChildError
from ..processes.queue_workers import CeleryWorkerProcess, RqWorkerProcess
from ..processes.redis import RedisServer, RedisUnavailable, start_redis
from .storage import STORAGE_ERRORS, unavailable

EXTENSION = "sandbox_broker"
BROKER_PATTERNS = ("celery", "rq")
DEFAULT_WORKERS = {"celery": 4, "rq": 2}  # Celery: threads of one process; RQ: worker processes, a job each
# What a worker's app needs of the web app's config to send the same mail and count it in the same place.
SHARED_KEYS = (
    "MAIL_SERVER", "MAIL_PORT", "MAIL_TIMEOUT", "MAIL_DEFAULT_SENDER", "MAIL_USERNAME", "MAIL_PASSWORD",
    "QUEUE_NAME", "QUEUE_RETRIES", "QUEUE_SEND_ONCE", "QUEUE_TASK_TAIL", "CELERY", "RQ_QUEUE", "STATS_PATH",
)  # fmt: skip


def side_by_side(action, processes: list) -> None:
    """`action` on every process at once, in threads: each start or stop of a worker waits about a second."""
    if processes:
        with ThreadPoolExecutor(len(processes)) as pool:
            list(pool.map(action, processes))  # list(): an exception in any one is raised here


class RedisBroker:
    """One app's Redis (its own, or the one --queue-url names) and the Celery and RQ workers sending for it."""

    def __init__(self, app: Flask) -> None:
        config = app.config
        self.app = app
        # REDIS_URL: in a worker, the Redis its launcher chose; QUEUE_URL: an existing one (--queue-url).
        url = config.get("REDIS_URL") or config.get("QUEUE_URL")
        self.given_url = url if url and url.startswith(("redis://", "rediss://", "unix://")) else None
        api = config.get("LAUNCHER_API")
        self.launcher = LauncherApi(api, config.get("SANDBOX_KEY"), timeout=60) if api else None
        self.counts = {p: config.setdefault(f"{p.upper()}_WORKERS", DEFAULT_WORKERS[p]) for p in BROKER_PATTERNS}
        self.server: RedisServer | None = None
        self.workers: dict[str, list] = {pattern: [] for pattern in BROKER_PATTERNS}
        self.helpers: dict[str, list] = {pattern: [] for pattern in BROKER_PATTERNS}  # RQ's scheduler
        self.settings: dict[str, dict] = {pattern: {} for pattern in BROKER_PATTERNS}
        self.used: set[str] = set()  # patterns whose workers were started once: never again behind a lesson's back
        self._urls: dict[str, str] = {}  # in an app process: what the launcher answered
        self._client: redis.Redis | None = None
        self._lock = threading.RLock()

    # -- Redis -------------------------------------------------------------
    def url(self) -> str:
        """The Redis URL: the one given, else this sandbox's own Redis, started now if it is not running."""
        with self._lock:
            if self.given_url:
                return self.given_url
            if self.launcher is not None:  # only the launcher starts a Redis: ask it, for any queue
                return self._ask_launcher("rq")
            if self.server is None or not self.server.running:
                self.server = start_redis()
            return self.server.url

    @property
    def address(self) -> str | None:
        """host:port of the Redis in use (no password), None before it is needed."""
        if self.given_url:
            return self.given_url.split("@")[-1].split("/")[0]
        return self.server.address if self.server is not None and self.server.running else None

    def client(self) -> redis.Redis:
        """A connection pool to the Redis (short timeouts: a Redis that is gone is a 503, not a hang)."""
        with self._lock:
            if self._client is None:
                self._client = redis.Redis.from_url(self.url(), socket_timeout=5, socket_connect_timeout=2)
            return self._client

    # -- workers -----------------------------------------------------------
    def prepare(self, pattern: str) -> str:
        """Before a send: the Redis URL, with `pattern`'s workers started if this is its first use."""
        if self.launcher is not None:
            return self._ask_launcher(pattern)
        with self._lock:
            try:
                url = self.url()
                if pattern not in self.used and self.counts[pattern] > 0:
                    self.client().ping()  # a Redis that does not answer: say so now, not once a worker gave up
                    self.start_workers(pattern)
            except (RedisUnavailable, ChildError, redis.RedisError) as error:
                raise unavailable(error) from None  # a 503 saying what to install, or the worker's log
            return url

    def _ask_launcher(self, pattern: str) -> str:
        with self._lock:
            if pattern not in self._urls:
                try:
                    status, answer = self.launcher.call("POST", f"queue/{pattern}/prepare")
                except OSError as error:
                    raise unavailable(error) from None
                if status != 200:
                    raise unavailable(RuntimeError(answer.get("error", f"the launcher answered {status}")))
                self._urls[pattern] = self.given_url = answer["url"]  # the launcher's Redis, from now on
            return self._urls[pattern]

    def worker_config(self, pattern: str) -> dict:
        """The config a worker builds its app from: this app's mail settings, the queue, the Redis, the counters."""
        config = {key: self.app.config[key] for key in SHARED_KEYS if key in self.app.config}
        # A worker starts no workers of its own.
        config.update(REDIS_URL=self.url(), CELERY_WORKERS=0, RQ_WORKERS=0)
        changes = dict(self.settings[pattern])
        config["CELERY"] = {**config["CELERY"], **changes.pop("CELERY", {})}
        return {**config, **changes}

    def start_workers(self, pattern: str, count: int | None = None, settings: dict | None = None) -> list:
        """(Re)start `pattern`'s workers, `count` of them, with config `settings` on top; ChildError if one fails."""
        with self._lock:
            self.stop_workers(pattern)
            self.used.add(pattern)
            if settings is not None:
                self.settings[pattern] = dict(settings)
            count = self.counts[pattern] if count is None else count
            config = self.worker_config(pattern)
            settings = get_settings(self.app).with_app_config(config)
            if pattern == "rq":
                # A scheduler killed with its worker keeps its lock for a minute, and no retry runs meanwhile.
                # None of this sandbox's workers runs now: the lock is stale.
                self.client().delete(RQScheduler.get_locking_key(config["RQ_QUEUE"]))
            if pattern == "celery":
                started = [CeleryWorkerProcess(settings, count)] if count else []
            else:
                started = [RqWorkerProcess(settings) for _ in range(count)]
            helpers = [RqWorkerProcess(settings, scheduler=True)] if pattern == "rq" and count else []
            everything = [*started, *helpers]
            try:
                side_by_side(lambda process: process.start(), everything)
            except BaseException:
                for process in everything:
                    process.stop(timeout=0)
                raise
            self.workers[pattern], self.helpers[pattern] = started, helpers
            return started

    def stop_workers(self, pattern: str, timeout: float = 15.0) -> None:
        """Stop `pattern`'s workers gracefully (the sends under way finish); queued mail waits in Redis."""
        with self._lock:
            side_by_side(lambda process: process.stop(timeout), [*self.workers[pattern], *self.helpers[pattern]])
            self.workers[pattern], self.helpers[pattern] = [], []

    def running_workers(self, pattern: str) -> list:
        """`pattern`'s worker processes that are alive."""
        return [process for process in self.workers[pattern] if process.running]

    # -- what it holds ------------------------------------------------------
    def waiting(self, pattern: str) -> int:
        """Mail not sent yet: waiting in the queue, or (RQ) scheduled for a retry or being run; 0 before Redis runs."""
        if self.address is None:
            return 0
        connection = self.client()
        if pattern == "celery":
            return connection.llen(self.app.config["CELERY"]["task_default_queue"])
        queue = rq.Queue(self.app.config["RQ_QUEUE"], connection=connection)
        return queue.count + queue.scheduled_job_registry.count + queue.started_job_registry.count

    def state(self) -> dict:
        """Per queue: its backend, the mail waiting, and its worker processes with their pids."""
        if self.launcher is not None:
            status, answer = self.launcher.call("GET", "queue")
            return answer.get("redis_queues", {}) if status == 200 else {}
        queues = {}
        for pattern in BROKER_PATTERNS:
            try:
                waiting = self.waiting(pattern)
            except STORAGE_ERRORS as error:
                raise unavailable(error) from None
            queues[pattern] = {
                "backend": f"{'Celery' if pattern == 'celery' else 'RQ'} on Redis",
                "redis": self.address,
                "waiting": waiting,
                "workers": [
                    {"pid": process.pid, "threads": process.workers} for process in self.running_workers(pattern)
                ],
            }
        return queues

    def close(self) -> None:
        """Stop the workers and this sandbox's own Redis; mail still queued is logged, never dropped without a word."""
        for pattern in BROKER_PATTERNS:
            self.stop_workers(pattern)
        if self.address is not None:
            try:
                left = {pattern: self.waiting(pattern) for pattern in BROKER_PATTERNS}
            except STORAGE_ERRORS:
                left = {}
            for pattern, waiting in left.items():
                if waiting:
                    fate = "kept in Redis" if self.given_url else "discarded with this sandbox's Redis"
                    self.app.logger.warning("%s: %d mail(s) never sent: %s", pattern, waiting, fate)
        if self._client is not None:
            self._client.close()
        if self.server is not None:
            self.server.stop(timeout=5)
            self.server = None


def init_broker(app: Flask) -> RedisBroker:
    """Give the app its Redis broker, closed on stop."""
    broker = RedisBroker(app)
    app.extensions[EXTENSION] = broker
    get_background(app).on_stop(broker.close)
    return broker


def get_broker(app: Flask | None = None) -> RedisBroker:
    """The app's Redis broker (the current app's when none is given)."""
    return (app or current_app).extensions[EXTENSION]

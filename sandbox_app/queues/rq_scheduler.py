"""RQ's scheduler: it puts a retried job back on the queue when its time comes, in a process of its own.

What `rq worker --with-scheduler` forks inside a worker, here apart, so that it stops with the
sandbox even when a lesson kills a worker. It needs Redis and the queue's name, not the app:
half a worker's memory (nothing here imports Flask).
"""

from __future__ import annotations

import os

import redis
from rq.scheduler import RQScheduler

from ..processes.env import report_ready


class PromptScheduler(RQScheduler):
    """RQ's scheduler, ended by SIGTERM or SIGINT at once, where RQ's own finishes its one-second sleep first."""

    def request_stop(self, signum=None, frame=None):
        # It holds no mail: its lock is deleted when the workers next start, and its key expires. Ending here,
        # wherever the signal landed (maybe inside a Redis call), leaves no half-done call to clean up after.
        os._exit(0)


def schedule(queue_name: str, redis_url: str) -> None:
    """Schedule the queue's retries until stopped."""
    scheduler = PromptScheduler([queue_name], connection=redis.Redis.from_url(redis_url))
    report_ready()
    scheduler.work()

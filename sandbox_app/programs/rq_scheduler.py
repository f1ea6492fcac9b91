"""RQ's scheduler for the app's queue: `python -m sandbox_app.programs.rq_scheduler`, a process of its own.

It puts a job back on the queue when its retry interval is up: what `rq worker --with-scheduler`
forks inside a worker, here apart, so that it stops with the sandbox even when a lesson kills a
worker. It needs Redis and the queue's name from its settings, not the app: half a worker's memory.
"""

from __future__ import annotations

import os
import signal

import redis
from rq.scheduler import RQScheduler

from ..processes.env import exit_with_parent, report_ready
from .startup import child_settings


class PromptScheduler(RQScheduler):
    """RQ's scheduler, ended by SIGTERM or SIGINT at once, where RQ's own finishes its one-second sleep first."""

    def request_stop(self, signum=None, frame=None):
        # It holds no mail: its lock is deleted when the workers next start, and its key expires. Ending here,
        # wherever the signal landed (maybe inside a Redis call), leaves no half-done call to clean up after.
        os._exit(0)


def main() -> None:
    """Schedule the queue's retries until stopped."""
    config = child_settings().app_config
    exit_with_parent(signal.SIGTERM)
    scheduler = PromptScheduler([config["RQ_QUEUE"]], connection=redis.Redis.from_url(config["REDIS_URL"]))
    report_ready()
    scheduler.work()


if __name__ == "__main__":
    main()

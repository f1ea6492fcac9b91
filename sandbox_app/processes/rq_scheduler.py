"""RQ's scheduler program: `python -m sandbox_app.processes.rq_scheduler`, a process of its own.

It puts a job back on the queue when its retry interval is up: what `rq worker --with-scheduler`
forks inside a worker, here apart, so that it stops with the sandbox even when a lesson kills a
worker. It needs Redis and the queue's name (from $SANDBOX_APP_CONFIG), not the app.
"""

from __future__ import annotations

import signal

from ..queues.rq_scheduler import schedule
from .env import config_from_env, exit_with_parent


def main() -> None:
    """Schedule the queue's retries until stopped."""
    config = config_from_env("REDIS_URL", '{"REDIS_URL": "redis://localhost/0", "RQ_QUEUE": "shop-rq"}')
    exit_with_parent(signal.SIGTERM)
    schedule(config["RQ_QUEUE"], config["REDIS_URL"])


if __name__ == "__main__":
    main()

"""RQ's scheduler for the app's queue: `python -m sandbox_app.programs.rq_scheduler`, a process of its own.

It puts a job back on the queue when its retry interval is up (see queues.rq_scheduler). It needs Redis
and the queue's name from its settings, not the app: half a worker's memory.
"""

from __future__ import annotations

import signal

from ..processes.env import exit_with_parent
from ..queues.rq_scheduler import schedule
from .startup import child_settings


def main() -> None:
    """Schedule the queue's retries until stopped."""
    config = child_settings().app_config
    exit_with_parent(signal.SIGTERM)
    schedule(config["RQ_QUEUE"], config["REDIS_URL"])


if __name__ == "__main__":
    main()

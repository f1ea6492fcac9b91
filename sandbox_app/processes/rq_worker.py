"""An RQ worker for the app's queue: `python -m sandbox_app.processes.rq_worker`, as `rq worker` with an app context.

It builds the same Flask app the web process runs, from $SANDBOX_APP_CONFIG (a JSON object naming
REDIS_URL and RQ_QUEUE), and pushes its app context before it works: each work horse it forks
inherits it, as the Flask Mega-Tutorial's worker does. `RqWorkerProcess` sets it.

With --scheduler it runs RQ's scheduler instead, which puts a retry back on the queue when its
interval is up: what `rq worker --with-scheduler` forks inside a worker, here a process of its own,
so that it stops with the sandbox even when a lesson kills a worker.
"""

from __future__ import annotations

import argparse
import os
import signal

from rq.scheduler import RQScheduler

from ..patterns.rq_queue import rq_queue, rq_worker
from ..web.factory import create_app
from .env import config_from_env, exit_with_parent
from .worker_process import touch_ready_file


class PromptScheduler(RQScheduler):
    """RQ's scheduler, ended by SIGTERM or SIGINT at once, where RQ's own finishes its one-second sleep first."""

    def request_stop(self, signum=None, frame=None):
        # It holds no mail: its lock is deleted when the workers next start, and its key expires. Ending here,
        # wherever the signal landed (maybe inside a Redis call), leaves no half-done call to clean up after.
        os._exit(0)


def main() -> None:
    """Work the queue until stopped: SIGTERM or SIGINT lets the job under way finish (RQ's warm shutdown)."""
    parser = argparse.ArgumentParser(prog="python -m sandbox_app.processes.rq_worker", description=main.__doc__)
    parser.add_argument("--scheduler", action="store_true", help="run RQ's scheduler (retries), not a worker")
    args = parser.parse_args()
    app = create_app(config_from_env("REDIS_URL", '{"REDIS_URL": "redis://localhost/0", "RQ_QUEUE": "shop-rq"}'))
    app.app_context().push()  # for every job: the horse is a fork of this process
    exit_with_parent(signal.SIGTERM)
    if args.scheduler:
        queue = rq_queue(app)
        scheduler = PromptScheduler([queue.name], connection=queue.connection)
        touch_ready_file()
        scheduler.work()
        return
    worker = rq_worker(app)
    touch_ready_file()
    worker.work(with_scheduler=False, logging_level="INFO")  # the scheduler runs in a process of its own


if __name__ == "__main__":
    main()

"""An RQ worker for the app's queue: `python -m sandbox_app.processes.rq_worker`, as `rq worker` with an app context.

It builds the same Flask app the web process runs, from $SANDBOX_APP_CONFIG (a JSON object naming
REDIS_URL and RQ_QUEUE), and pushes its app context before it works: each work horse it forks
inherits it, as the Flask Mega-Tutorial's worker does. `RqWorkerProcess` sets it. RQ's scheduler
runs apart (rq_scheduler.py).
"""

from __future__ import annotations

import signal

from ..patterns.rq_queue import rq_worker
from ..web.factory import create_app
from .env import config_from_env, exit_with_parent
from .worker_process import touch_ready_file


def main() -> None:
    """Work the queue until stopped: SIGTERM or SIGINT lets the job under way finish (RQ's warm shutdown)."""
    app = create_app(config_from_env("REDIS_URL", '{"REDIS_URL": "redis://localhost/0", "RQ_QUEUE": "shop-rq"}'))
    app.app_context().push()  # for every job: the horse is a fork of this process
    exit_with_parent(signal.SIGTERM)
    worker = rq_worker(app)
    touch_ready_file()
    worker.work(with_scheduler=False, logging_level="INFO")  # the scheduler runs in a process of its own


if __name__ == "__main__":
    main()

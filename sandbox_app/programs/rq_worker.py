"""An RQ worker for the app's queue: `python -m sandbox_app.programs.rq_worker`, as `rq worker` with an app context.

It builds the same Flask app the web process runs in `main()`, from the settings its launcher passed in
the environment (`RqWorkerProcess`), and pushes its app context before it works: each work horse it forks
inherits it, as the Flask Mega-Tutorial's worker does. RQ's scheduler runs apart (rq_scheduler.py).
"""

from __future__ import annotations

import signal

from ..patterns.rq_queue import rq_worker
from ..processes.env import exit_with_parent, report_ready
from ..web.factory import create_app
from .startup import child_settings


def main() -> None:
    """Work the queue until stopped: SIGTERM or SIGINT lets the job under way finish (RQ's warm shutdown)."""
    app = create_app(child_settings())
    app.app_context().push()  # for every job: the horse is a fork of this process
    exit_with_parent(signal.SIGTERM)
    worker = rq_worker(app)
    report_ready()
    worker.work(with_scheduler=False, logging_level="INFO")  # the scheduler runs in a process of its own


if __name__ == "__main__":
    main()

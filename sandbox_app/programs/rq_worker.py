"""An RQ worker for the app's queue: `python -m sandbox_app.programs.rq_worker`, as `rq worker` with an app context.

It builds the same Flask app the web process runs in `main()`, from the settings its launcher passed in
the environment (`RqWorkerProcess`), and works the queue (queues.rq_queue.work). RQ's scheduler runs
apart (rq_scheduler.py).
"""

from __future__ import annotations

import signal

from ..processes.env import exit_with_parent
from ..queues.rq_queue import work
from ..web.factory import create_app
from .startup import child_settings, exit_now


def main() -> None:
    """Work the queue until stopped: SIGTERM or SIGINT lets the job under way finish (RQ's warm shutdown)."""
    app = create_app(child_settings())
    exit_with_parent(signal.SIGTERM)
    work(app)
    exit_now()  # a warm shutdown is over: the job under way finished


if __name__ == "__main__":
    main()

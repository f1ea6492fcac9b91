"""The worker of a queue backend that runs its worker from a function: `python -m sandbox_app.programs.queue_worker`.

The backend is the one its settings name (SENDS_FOR_QUEUE, set by `QueueBackend.worker_settings`). Huey's
consumer and Celery's and RQ's workers have programs of their own: `huey_consumer` and `celery -A` need a
module attribute, and lesson 14 shows RQ's command line. A new backend needs none: its `work()` runs here.
"""

from __future__ import annotations

import signal

from ..processes.env import exit_with_parent
from ..queues.registry import get_backend
from ..web.factory import create_app
from .startup import child_settings, exit_now


def main() -> None:
    """Build the app from the launcher's settings and run its queue's worker until stopped (SIGTERM)."""
    app = create_app(child_settings())
    exit_with_parent(signal.SIGTERM)
    get_backend(app.config["SENDS_FOR_QUEUE"], app).work()
    exit_now()


if __name__ == "__main__":
    main()

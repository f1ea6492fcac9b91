"""RQ's worker program: `python -m sandbox_app.processes.rq_worker`, as `rq worker` with an app context.

It builds the same Flask app the web process runs, from $SANDBOX_APP_CONFIG (a JSON object naming
REDIS_URL and RQ_QUEUE). RQ's scheduler runs apart (rq_scheduler.py).
"""

from __future__ import annotations

import signal

from ..queues.rq_queue import work
from ..web.factory import create_app
from .env import config_from_env, exit_with_parent


def main() -> None:
    """Work the queue until stopped (SIGTERM or SIGINT: RQ's warm shutdown)."""
    app = create_app(config_from_env("REDIS_URL", '{"REDIS_URL": "redis://localhost/0", "RQ_QUEUE": "shop-rq"}'))
    exit_with_parent(signal.SIGTERM)
    work(app)


if __name__ == "__main__":
    main()

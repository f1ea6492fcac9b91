"""The Celery worker's app: `celery -A sandbox_app.processes.celery_worker:celery_app worker` sends what the app queued.

It builds the same Flask app the web process runs, from $SANDBOX_APP_CONFIG (a JSON object naming
REDIS_URL and the queue), and the Celery app Flask's documentation makes of it. `CeleryWorkerProcess` sets it.
"""

from __future__ import annotations

import signal

from celery.signals import worker_ready

from ..patterns.celery_queue import get_celery
from ..web.factory import create_app
from .env import config_from_env, exit_with_parent
from .worker_process import touch_ready_file

app = create_app(config_from_env("REDIS_URL", '{"REDIS_URL": "redis://localhost/0", "QUEUE_NAME": "shop"}'))
celery_app = get_celery(app)


@worker_ready.connect
def report_ready(**_kwargs) -> None:
    """Tell the parent the worker consumes (Celery sends this once its pool runs)."""
    touch_ready_file()


exit_with_parent(signal.SIGTERM)  # Celery's warm shutdown: the tasks under way finish

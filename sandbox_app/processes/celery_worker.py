"""Celery's worker program: `celery -A sandbox_app.processes.celery_worker:celery_app worker` sends what the app queued.

It builds the same Flask app the web process runs, from $SANDBOX_APP_CONFIG (a JSON object naming
REDIS_URL and the queue), and the Celery app Flask's documentation makes of it.
"""

from __future__ import annotations

import signal

from ..queues.celery_queue import worker_celery
from ..web.factory import create_app
from .env import config_from_env, exit_with_parent

app = create_app(config_from_env("REDIS_URL", '{"REDIS_URL": "redis://localhost/0", "QUEUE_NAME": "shop"}'))
celery_app = worker_celery(app)
exit_with_parent(signal.SIGTERM)  # Celery's warm shutdown: the tasks under way finish

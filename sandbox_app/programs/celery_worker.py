"""The Celery worker's app: `celery -A sandbox_app.programs.celery_worker:celery_app worker` sends what the app queued.

`celery -A` needs a Celery app as a module attribute, so this module builds the Flask app at import, as
Flask's `make_celery.py` does: the same app the web process runs, from the settings its launcher passed
in the environment (`CeleryWorkerProcess`), and the Celery app Flask's documentation makes of it.
"""

from __future__ import annotations

import signal

from celery.signals import worker_shutdown

from ..processes.env import exit_with_parent
from ..queues.celery_queue import worker_celery
from ..web.factory import create_app
from .startup import child_settings, exit_now

app = create_app(child_settings())
celery_app = worker_celery(app)
exit_with_parent(signal.SIGTERM)  # Celery's warm shutdown: the tasks under way finish
# Sent once the warm (or cold) shutdown is over: the tasks under way finished, the reserved ones went back to Redis.
worker_shutdown.connect(lambda sender, **_: exit_now(sender.exitcode or 0), weak=False)

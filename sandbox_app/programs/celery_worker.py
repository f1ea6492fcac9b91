"""The Celery worker's app: `celery -A sandbox_app.programs.celery_worker:celery_app worker` sends what the app queued.

`celery -A` needs a Celery app as a module attribute, so this module builds the Flask app at import, as
Flask's `make_celery.py` does: the same app the web process runs, from the settings its launcher passed
in the environment (`CeleryWorkerProcess`), and the Celery app Flask's documentation makes of it.
"""

from __future__ import annotations

import signal

from celery.signals import worker_ready

from ..patterns.celery_queue import get_celery
from ..processes.env import exit_with_parent, report_ready
from ..web.factory import create_app
from .startup import child_settings

app = create_app(child_settings())
celery_app = get_celery(app)


@worker_ready.connect
def report_started(**_kwargs) -> None:
    """Tell the parent the worker consumes (Celery sends this once its pool runs)."""
    report_ready()


exit_with_parent(signal.SIGTERM)  # Celery's warm shutdown: the tasks under way finish

"""Huey's consumer for the app's queue: `huey_consumer sandbox_app.programs.huey_worker.huey` sends what the app queued.

`huey_consumer` needs a Huey instance as a module attribute, so this module builds the app at import,
as Flask's `make_celery.py` does: the same app the web process runs (the same Flask-Mail settings,
the same queue storage), from the settings its launcher passed in the environment (`ConsumerProcess`).
"""

from __future__ import annotations

import signal

from ..processes.env import exit_with_parent, report_ready
from ..queue.interrupted import requeue_interrupted
from ..queue.mailqueue import get_queue
from ..web.factory import create_app
from .startup import child_settings

app = create_app(child_settings())
huey = get_queue(app).huey


@huey.on_startup()
def report_started() -> None:
    """Tell the parent the workers run (each worker calls this; the first one counts)."""
    report_ready()


if app.config.get("QUEUE_REQUEUE_INTERRUPTED", True):  # off: plain Huey, for lesson 12's comparison
    requeue_interrupted(huey)  # a send cut short by an immediate stop (SIGTERM) goes back on the queue
exit_with_parent(signal.SIGINT)  # Huey's graceful stop: the sends in progress finish

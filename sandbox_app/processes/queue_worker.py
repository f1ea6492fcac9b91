"""The consumer's side of the queue: `huey_consumer sandbox_app.processes.queue_worker.huey` sends what the app queued.

The consumer builds the same app the web process runs (so it sends with the same Flask-Mail
settings and counts into the same queue storage), configured from $SANDBOX_APP_CONFIG, a JSON
object such as {"QUEUE_NAME": "shop", "MAIL_PORT": 8025}. `ConsumerProcess` sets it; by hand:

    SANDBOX_APP_CONFIG='{"QUEUE_NAME": "shop", "MAIL_PORT": 8025}' huey_consumer sandbox_app.processes.queue_worker.huey -w 4
"""

from __future__ import annotations

import signal

from ..queue.interrupted import requeue_interrupted
from ..queue.mailqueue import get_queue
from ..web.factory import create_app
from .env import config_from_env, exit_with_parent
from .worker_process import touch_ready_file

app = create_app(config_from_env("QUEUE_NAME", '{"QUEUE_NAME": "shop"}'))
huey = get_queue(app).huey


@huey.on_startup()
def report_ready() -> None:
    """Tell the parent the workers run (each worker calls this; the first one counts)."""
    touch_ready_file()


if app.config.get("QUEUE_REQUEUE_INTERRUPTED", True):  # off: plain Huey, for lesson 12's comparison
    requeue_interrupted(huey)  # a send cut short by an immediate stop (SIGTERM) goes back on the queue
exit_with_parent(signal.SIGINT)  # Huey's graceful stop: the sends in progress finish

"""Huey's consumer program: `huey_consumer sandbox_app.processes.queue_worker.huey` sends what the app queued.

It builds the same app the web process runs, from $SANDBOX_APP_CONFIG, a JSON object such as
{"QUEUE_NAME": "shop", "MAIL_PORT": 8025}; by hand:

    SANDBOX_APP_CONFIG='{"QUEUE_NAME": "shop", "MAIL_PORT": 8025}' huey_consumer sandbox_app.processes.queue_worker.huey -w 4
"""

from __future__ import annotations

import signal

from ..queues.huey_queue import consumer_huey
from ..web.factory import create_app
from .env import config_from_env, exit_with_parent

app = create_app(config_from_env("QUEUE_NAME", '{"QUEUE_NAME": "shop"}'))
huey = consumer_huey(app)
exit_with_parent(signal.SIGINT)  # Huey's graceful stop: the sends in progress finish

"""Huey's consumer for the app's queue: `huey_consumer sandbox_app.programs.huey_worker.huey` sends what the app queued.

`huey_consumer` needs a Huey instance as a module attribute, so this module builds the app at import,
as Flask's `make_celery.py` does: the same app the web process runs (the same Flask-Mail settings,
the same queue storage), from the settings its launcher passed in the environment (`ConsumerProcess`).
"""

from __future__ import annotations

import signal
from functools import partial

from huey.consumer import Consumer

from ..processes.env import exit_with_parent
from ..queues.huey_queue import consumer_huey
from ..web.factory import create_app
from .startup import child_settings, exit_now


class PromptExitConsumer(Consumer):
    """huey_consumer's consumer, whose process ends as soon as the consumer has stopped (see exit_now)."""

    def run(self) -> None:
        super().run()  # returns once stopped: the tasks under way finished, or were interrupted and signalled
        exit_now()


app = create_app(child_settings())
huey = consumer_huey(app)
huey.create_consumer = partial(PromptExitConsumer, huey)  # what huey_consumer calls to make its consumer
exit_with_parent(signal.SIGINT)  # Huey's graceful stop: the sends in progress finish

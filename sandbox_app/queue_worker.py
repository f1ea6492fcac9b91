"""The consumer's side of the queue: `huey_consumer sandbox_app.queue_worker.huey` sends what the app queued.

The consumer builds the same app the web process runs (so it sends with the same Flask-Mail
settings and counts into the same queue storage), configured from $SANDBOX_APP_CONFIG, a JSON
object such as {"QUEUE_NAME": "shop", "MAIL_PORT": 8025}. `ConsumerProcess` sets it; by hand:

    SANDBOX_APP_CONFIG='{"QUEUE_NAME": "shop", "MAIL_PORT": 8025}' huey_consumer sandbox_app.queue_worker.huey -w 4
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path

from huey.signals import SIGNAL_INTERRUPTED

from .queue.consumer import CONFIG_ENV, PARENT_PID_ENV, READY_FILE_ENV
from .queue.mailqueue import get_queue
from .web.factory import create_app


def config_from_env() -> dict:
    """The app config the parent passed; a clear message (not a traceback) when it is missing."""
    text = os.environ.get(CONFIG_ENV)
    try:
        config = json.loads(text) if text else None
    except ValueError:
        config = None
    if not isinstance(config, dict) or not config.get("QUEUE_NAME"):
        sys.exit(f"error: set {CONFIG_ENV} to a JSON object naming the queue, e.g. " '\'{"QUEUE_NAME": "shop"}\'')
    return config


def exit_with_parent(parent_pid: int) -> None:
    """Stop gracefully once the process that started this consumer is gone: no orphan consumers."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)  # Huey's graceful stop: the sends in progress finish

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


app = create_app(config_from_env())
huey = get_queue(app).huey


@huey.on_startup()
def report_ready() -> None:
    """Tell the parent the workers run (each worker calls this; the first one counts)."""
    ready = os.environ.get(READY_FILE_ENV)
    if ready:
        with suppress(OSError):  # the parent removes it once seen
            Path(ready).touch()


@huey.signal(SIGNAL_INTERRUPTED)
def requeue_interrupted(signal_name, task, *args) -> None:
    """A send cut short by a fast stop (SIGTERM) goes back on the queue: at least once, never lost."""
    huey.enqueue(task)


if os.environ.get(PARENT_PID_ENV):
    exit_with_parent(int(os.environ[PARENT_PID_ENV]))

"""What the sandbox's consumer adds to Huey: a send cut short by an immediate stop goes back on the queue."""

from __future__ import annotations

from huey.api import Huey
from huey.signals import SIGNAL_INTERRUPTED


def requeue_interrupted(huey: Huey) -> None:
    """On SIGTERM Huey stops at once and signals each task it interrupted; plain Huey then forgets it. Put it back."""

    @huey.signal(SIGNAL_INTERRUPTED)
    def put_back(signal_name, task, *args) -> None:
        huey.enqueue(task)  # sent again from the start: at least once, never lost (a send past DATA goes twice)

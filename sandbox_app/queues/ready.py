"""How a worker process tells the sandbox it is ready: it touches a file the sandbox named (no Flask imported here)."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

READY_FILE_ENV = "SANDBOX_WORKER_READY"


def touch_ready_file() -> None:
    """In the worker: tell the parent it is ready (the parent removes the file once seen)."""
    ready = os.environ.get(READY_FILE_ENV)
    if ready:
        with suppress(OSError):  # already seen and removed: the parent has moved on
            Path(ready).touch()

"""The main programs of the sandbox's child processes: the app under a server, the queues' workers.

Nothing imports them but a command line (`gunicorn`, `huey_consumer`, `celery -A`, `python -m`): they sit
above everything they build the app from.
"""

from __future__ import annotations

import sys

from ..config import SandboxConfig
from ..processes.env import InvalidSettings


def child_settings() -> SandboxConfig:
    """The settings the launcher passed; a one-line error and exit status 2 when they are missing or do not fit."""
    try:
        return SandboxConfig.from_env()
    except InvalidSettings as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None

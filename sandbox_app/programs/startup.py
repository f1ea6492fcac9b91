"""What every program does first and last: read the settings its launcher passed (or say in one line why it cannot),
and end at once when its work is done."""

from __future__ import annotations

import logging
import os
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


def exit_now(code: int = 0) -> None:
    """End the process once its worker has stopped cleanly: its log and output written, no interpreter teardown.

    The teardown of a worker's large heap took half a second to a second of each stop on 2 busy cores, and
    the lessons stop workers dozens of times; everything it would do is done (Redis and SQLite writes commit as
    they go) or done by the system (sockets closed).
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

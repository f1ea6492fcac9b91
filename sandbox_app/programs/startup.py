"""What every program does first: read the settings its launcher passed, or say in one line why it cannot."""

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

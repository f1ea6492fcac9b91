"""What a parent tells a child it starts (its settings, its own pid, where to report ready), and how the child answers.

The parent: `settings_env(settings)` gives the environment entries; `ChildProcess(..., reports_ready=True)`
names a ready file. The child: `settings_json()` (read through `SandboxConfig.from_env()`), `report_ready(**facts)`.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Protocol

# Environment, not argv: the settings hold the sandbox's key, and every account on the machine sees argv
# (a process's environment is readable by its own user only).
SETTINGS_ENV = "SANDBOX_SETTINGS"
PARENT_PID_ENV = "SANDBOX_PARENT_PID"
READY_FILE_ENV = "SANDBOX_READY_FILE"


class InvalidSettings(ValueError):
    """A child's settings are missing or do not fit; the message names the field, for a one-line error."""


class Settings(Protocol):
    """What `settings_env` passes: an object that serialises itself (SandboxConfig)."""

    def to_json(self) -> str: ...


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment entries that give a child `settings` and this process's pid (to stop with it)."""
    return {SETTINGS_ENV: settings.to_json(), PARENT_PID_ENV: str(os.getpid())}


def settings_json(environ: Mapping[str, str] | None = None) -> str:
    """In a child: the settings its parent passed, as JSON; InvalidSettings when there are none."""
    text = (os.environ if environ is None else environ).get(SETTINGS_ENV)
    if not text:
        raise InvalidSettings(
            f"no settings: ${SETTINGS_ENV} is not set (a sandbox sets it for the processes it starts)"
        )
    return text


def report_ready(**facts: object) -> None:
    """In a child: tell the parent it is ready, with `facts` (its port, its key) as JSON; nothing if none asked.

    Written to a file beside the ready file, then renamed over it: the parent never reads half of it.
    """
    ready = os.environ.get(READY_FILE_ENV)
    if not ready:
        return
    with suppress(OSError):  # the parent has seen one already and removed the folder: it has moved on
        handle, draft = tempfile.mkstemp(dir=Path(ready).parent, prefix=".draft-")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(facts, file)
        os.replace(draft, ready)


def read_report(path: Path) -> dict | None:
    """In the parent: what the child reported in its ready file, None before it did."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def exit_with_parent(stop_signal: int = signal.SIGINT) -> None:
    """Send this process `stop_signal` once the parent that started it is gone: no orphans left running."""
    parent = os.environ.get(PARENT_PID_ENV)
    if not parent:
        return

    def watch() -> None:
        while os.getppid() == int(parent):
            time.sleep(0.2)
        os.kill(os.getpid(), stop_signal)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()

"""What a parent process tells a child it starts (the app's config, its own pid) through the environment."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

# Environment, not argv: a config may hold the sandbox's key, and every account on the machine sees argv.
CONFIG_ENV = "SANDBOX_APP_CONFIG"
PARENT_PID_ENV = "SANDBOX_PARENT_PID"


def config_env(config: dict) -> dict[str, str]:
    """The environment entries that pass `config` and this process's pid to a child."""
    return {CONFIG_ENV: json.dumps(config), PARENT_PID_ENV: str(os.getpid())}


def config_from_env(required: str, example: str) -> dict:
    """The app config the parent passed; exits with a clear message (not a traceback) when it is missing."""
    text = os.environ.get(CONFIG_ENV)
    try:
        config = json.loads(text) if text else None
    except ValueError:
        config = None
    if not isinstance(config, dict) or not config.get(required):
        sys.exit(f"error: set {CONFIG_ENV} to a JSON object naming {required}, e.g. '{example}'")
    return config


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

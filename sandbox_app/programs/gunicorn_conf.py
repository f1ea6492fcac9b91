"""gunicorn's settings (`-c python:sandbox_app.programs.gunicorn_conf`): no master outlives its launcher."""

import signal

from ..processes.env import exit_with_parent


def when_ready(server) -> None:
    """In the master, once it serves: stop it gracefully (SIGTERM) when the process that started it is gone."""
    exit_with_parent(signal.SIGTERM)

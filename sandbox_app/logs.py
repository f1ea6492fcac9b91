"""A sandbox's log file: the app's log lines (failed sends among them) in the state folder, kept a week."""

from __future__ import annotations

import logging
import time
from contextlib import suppress
from pathlib import Path

from flask import Flask
from flask.logging import default_handler

from .http_server import WAITRESS_LOGGER
from .paths import state_dir

LOG_MAX_AGE = 7 * 24 * 3600  # seconds a sandbox's log is kept after its last line
LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def remove_old_logs(folder: Path) -> None:
    """Delete sandbox logs untouched for a week: each run on a new port leaves one behind."""
    too_old = time.time() - LOG_MAX_AGE
    for log in folder.glob("sandbox-*.log"):
        with suppress(OSError):  # another learner's sandbox removed it first, or it is not ours to remove
            if log.stat().st_mtime < too_old:
                log.unlink()


class SandboxLog:
    """The app's log (and waitress's warnings) written to `sandbox-<port>.log`, and to stderr only when asked."""

    def __init__(self, app: Flask, port: int, echo: bool) -> None:
        self.app = app
        self.path = state_dir() / "logs" / f"sandbox-{port}.log"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_old_logs(self.path.parent)
        self.handler = logging.FileHandler(self.path, mode="w", encoding="utf-8")
        self.handler.setFormatter(logging.Formatter(LOG_FORMAT))
        if not echo:
            app.logger.removeHandler(default_handler)  # stray lines on stderr upset notebook cells
        app.logger.addHandler(self.handler)
        WAITRESS_LOGGER.addHandler(self.handler)  # its warnings go to the file, never into a notebook cell

    def lines(self) -> list[str]:
        """The lines written so far."""
        if not self.path.exists():
            return []
        return self.path.read_text(encoding="utf-8").splitlines()

    def close(self) -> None:
        """Stop writing to the file (it stays, for reading after the sandbox stopped)."""
        self.app.logger.removeHandler(self.handler)
        WAITRESS_LOGGER.removeHandler(self.handler)
        self.handler.close()

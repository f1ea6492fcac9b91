"""Where run-time state goes: a per-user folder outside the repository."""

from __future__ import annotations

import os
from pathlib import Path

APP_DIR_NAME = "flask-mail-sandbox"


def state_dir() -> Path:
    """$SANDBOX_STATE_DIR, else $XDG_STATE_HOME/flask-mail-sandbox, else ~/.local/state/...; created."""
    explicit = os.environ.get("SANDBOX_STATE_DIR")
    if explicit:
        path = Path(explicit)
    else:
        base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
        path = Path(base) / APP_DIR_NAME
    path.mkdir(parents=True, exist_ok=True)
    return path


def remove_sqlite_database(path: Path | str) -> None:
    """Delete a SQLite database and the -wal and -shm files its WAL journal keeps beside it."""
    for leftover in (Path(path), Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)

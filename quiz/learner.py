"""Who is answering: the learner id, the file it names, and the course version."""

from __future__ import annotations

import importlib.metadata
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

DISTRIBUTION = "flask-mail-performance-course"
# The same per-user state folder as sandbox_app.paths (not imported: the quiz does not depend on the sandbox).
APP_DIR_NAME = "flask-mail-sandbox"
ID_FILE = "quiz-learner-id"

_process_id: str | None = None  # the anonymous id when the state folder cannot keep one


def learner_id(environ: Mapping[str, str] | None = None) -> str:
    """JUPYTERHUB_USER, else QUIZ_LEARNER, else an anonymous id kept in the per-user state folder."""
    environ = os.environ if environ is None else environ
    for name in ("JUPYTERHUB_USER", "QUIZ_LEARNER"):
        value = environ.get(name, "").strip()
        if value:
            return value
    return anonymous_id(environ)


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """$SANDBOX_STATE_DIR, else $XDG_STATE_HOME/flask-mail-sandbox, else ~/.local/state/flask-mail-sandbox."""
    environ = os.environ if environ is None else environ
    if environ.get("SANDBOX_STATE_DIR"):
        return Path(environ["SANDBOX_STATE_DIR"])
    base = environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / APP_DIR_NAME


def anonymous_id(environ: Mapping[str, str] | None = None) -> str:
    """'anon-' and 12 hex digits, the same in every kernel of this user; per process if it cannot be kept."""
    global _process_id
    path = state_dir(environ) / ID_FILE
    try:
        return _read_id(path)
    except (OSError, ValueError):
        pass
    candidate = f"anon-{secrets.token_hex(6)}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write aside, then link into place: the id file appears whole or not at all, and
        # when two kernels race, the one whose link lands first wins and the other reads it.
        spare = path.with_name(f".{ID_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        spare.write_text(candidate + "\n", encoding="utf-8")
        try:
            os.link(spare, path)
        except FileExistsError:
            pass
        finally:
            spare.unlink()
        return _read_id(path)
    except (OSError, ValueError):
        if _process_id is None:
            _process_id = candidate
        return _process_id


def _read_id(path: Path) -> str:
    value = path.read_text(encoding="utf-8").strip()
    if not value.startswith("anon-") or not value[5:].isalnum():
        raise ValueError(f"{path}: not a learner id")
    return value


def file_name(learner: str) -> str:
    """The learner's responses file: the id made safe as one file name, plus '.jsonl'."""
    # Hub names may hold '/', spaces or non-ASCII; percent-encoding keeps them apart and readable.
    safe = quote(learner, safe="@+-_.")
    if safe.startswith("."):
        safe = "%2E" + safe[1:]  # no hidden files, no '..'
    return safe + ".jsonl"


def course_version() -> str:
    """The installed course's version, as recorded with every answer."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"

"""Write answers as they are given: one JSON line per Check or revealed checkpoint, in <dir>/<learner>.jsonl.

On a hub with the course service (QUIZ_SERVICE_URL set), quiz.answer_sender sends the same lines there instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from . import learner as learners
from .answer_sender import SERVICE_ENV, ServiceRecorder, utc_now

try:
    import fcntl
except ImportError:  # Windows: O_APPEND alone keeps each line whole on a local disk
    fcntl = None

ENV_VAR = "QUIZ_RESPONSES_DIR"
# Learners' files are theirs; the group (the instructors', in the guide's setup) may read them.
FILE_MODE = 0o640

_warned: set[str] = set()  # one warning per folder and process, not one per click


class Recorder:
    """Appends lines to one learner's file in a folder (off without a folder); never raises."""

    # A folder it cannot write gives one warning line on stderr (and .problem, for the widgets
    # to show), and the quiz carries on without recording.

    def __init__(self, folder: str | Path | None, learner: str | None = None):
        self.folder = Path(folder) if folder else None
        self._learner = learner
        self.problem: str | None = None

    @classmethod
    def from_env(cls) -> Recorder:
        """The recorder QUIZ_RESPONSES_DIR asks for (off when unset or empty)."""
        return cls(os.environ.get(ENV_VAR, "").strip() or None)

    @property
    def enabled(self) -> bool:
        """True when a folder is set."""
        return self.folder is not None

    def describe(self) -> str:
        """The recording mode, as one sentence."""
        if not self.enabled:
            return f"Answers are not recorded: neither {SERVICE_ENV} nor {ENV_VAR} is set."
        return f"Answers are written to {self.path}."

    @property
    def learner(self) -> str:
        """Whose answers these are (worked out on first use, so an unset folder touches nothing)."""
        if self._learner is None:
            self._learner = learners.learner_id()
        return self._learner

    @property
    def path(self) -> Path | None:
        """The learner's file, None when recording is off."""
        return self.folder / learners.file_name(self.learner) if self.folder else None

    def check(self) -> bool:
        """Open the learner's file for appending, as a write will; False (and one warning) if it fails."""
        if not self.enabled:
            return False
        try:
            os.close(_open_for_append(self.path))
        except (OSError, ValueError) as error:
            self._fail(error)
            return False
        return True

    def append(self, record: dict[str, Any]) -> bool:
        """Write one record as one line, with learner, time and version; False if it could not be written."""
        if not self.enabled:
            return False
        line = {"learner": self.learner, **record, "time": utc_now(), "version": learners.course_version()}
        data = (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            append_line(self.path, data)
        except (OSError, ValueError) as error:
            self._fail(error)
            return False
        self.problem = None
        return True

    def _fail(self, error: Exception) -> None:
        reason = getattr(error, "strerror", None) or str(error)
        self.problem = (
            f"quiz: answers are not being recorded: cannot write to {self.folder} ({ENV_VAR}): {reason}."
            " The quiz works as usual."
        )
        if str(self.folder) not in _warned:
            _warned.add(str(self.folder))
            print(self.problem, file=sys.stderr)


class Session:
    """One run of a quiz or checkpoint: its lines share a session id, and count attempts per item."""

    def __init__(self, recorder: Recorder | ServiceRecorder | None):
        self.recorder = recorder
        self.id = uuid.uuid4().hex
        self._attempts: dict[tuple[str, str], int] = {}

    @property
    def problem(self) -> str | None:
        """The recorder's warning, if recording failed."""
        return self.recorder.problem if self.recorder else None

    def record(self, item_type: str, item_id: str, answer: Any, correct: bool | None, **extra: Any) -> bool:
        """Record one answer to a question or checkpoint (item_type 'question' or 'checkpoint')."""
        key = (item_type, item_id)
        self._attempts[key] = self._attempts.get(key, 0) + 1
        if self.recorder is None:
            return False
        record = {
            "session": self.id,
            item_type: item_id,
            "answer": list(answer) if isinstance(answer, tuple) else answer,
            "correct": correct,
            "attempt": self._attempts[key],
            **extra,
        }
        return self.recorder.append(record)


def recorder_from_env() -> Recorder | ServiceRecorder:
    """The course service when QUIZ_SERVICE_URL names one, else the folder of QUIZ_RESPONSES_DIR (off when unset)."""
    url = os.environ.get(SERVICE_ENV, "").strip()
    return ServiceRecorder(url) if url else Recorder.from_env()


def recording() -> str:
    """Where this kernel's answers go, as one sentence: the course service, a folder, or nowhere."""
    return recorder_from_env().describe()


def session_for(record: bool) -> Session:
    """A session that records when record is true and the service or a folder is set; checks it now."""
    recorder = recorder_from_env() if record else None
    if recorder is not None and not recorder.enabled:
        recorder = None  # unset: nothing is written, not even the learner id
    if recorder is not None:
        recorder.check()  # a bad folder warns now, in the cell that builds the quiz
    return Session(recorder)


def append_line(path: Path, data: bytes) -> None:
    """Append data (one line) so that concurrent writers never interleave: O_APPEND, a lock, one write."""
    fd = _open_for_append(path)
    try:
        with _locked(fd):
            view = memoryview(data)
            while view:  # a regular file takes it in one write; loop in case a filesystem does not
                view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _open_for_append(path: Path) -> int:
    """The learner's file open for appending; created with FILE_MODE whatever the umask, if it is new."""
    flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return os.open(path, flags)  # the learner's own file: its mode is theirs to keep
    # A umask such as 077 (some hubs set it) would take away the group's read: the instructors
    # read the answers as that group (INSTRUCTORS.md), so the new file gets its mode explicitly.
    with contextlib.suppress(OSError, AttributeError):  # no fchmod on Windows; none on some mounts
        os.fchmod(fd, FILE_MODE)
    return fd


@contextlib.contextmanager
def _locked(fd: int):
    """An exclusive lock on the file while a line is written (POSIX locks also work over NFS)."""
    locked = False
    if fcntl is not None:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
            locked = True
        except OSError:
            pass  # no lock service (some NFS mounts): O_APPEND still puts each write at the end
    try:
        yield
    finally:
        if locked:
            fcntl.lockf(fd, fcntl.LOCK_UN)

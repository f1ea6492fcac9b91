"""Read recorded answers back: every .jsonl file under the folders given, with junk set aside and named."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ITEM_TYPES = ("question", "checkpoint")
# Past this many bad lines in one file, one more entry sums up the rest.
MAX_NOTES_PER_FILE = 5


class FolderError(Exception):
    """A folder given to the report does not exist or is not a folder."""


@dataclass(frozen=True)
class Response:
    """One recorded answer: to a question (a Check) or to a checkpoint (a reveal)."""

    learner: str
    session: str
    item_type: str
    item: str
    answer: Any
    correct: bool | None
    attempt: int
    time: datetime
    version: str
    measured: Any = None
    unit: str | None = None
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class Skipped:
    """A file or line the report could not use, and why."""

    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        return f"{self.file}{f' line {self.line}' if self.line else ''}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """As the report's JSON lists it."""
        return {"file": self.file, "line": self.line, "reason": self.reason}


def read_folders(folders) -> tuple[list[Response], list[Skipped]]:
    """Every response under the folders (searched recursively), and what was skipped."""
    paths = [Path(folder) for folder in folders]
    for path in paths:
        if not path.exists():
            raise FolderError(f"{path}: no such folder")
        if not path.is_dir():
            raise FolderError(f"{path}: not a folder")
    responses: list[Response] = []
    skipped: list[Skipped] = []
    for path in paths:
        for file in _files(path):
            if not file.name.endswith(".jsonl"):
                skipped.append(Skipped(str(file), None, "not a .jsonl file"))
                continue
            found, bad = read_file(file)
            responses.extend(found)
            skipped.extend(bad)
    return responses, skipped


def _files(folder: Path) -> list[Path]:
    """The folder's files, in a stable order, leaving out hidden ones (.ipynb_checkpoints, editors' swap files)."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        found.extend(Path(root) / name for name in sorted(files) if not name.startswith("."))
    return found


def read_file(path: Path) -> tuple[list[Response], list[Skipped]]:
    """The responses in one file, and its lines that are not responses."""
    try:
        data = path.read_bytes()
    except OSError as error:
        return [], [Skipped(str(path), None, f"cannot read: {error.strerror or error}")]
    responses, bad = [], []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue  # blank lines, and the empty piece after the last newline
        try:
            responses.append(parse_line(raw, str(path), number))
        except ValueError as error:
            bad.append(Skipped(str(path), number, str(error)))
    if not responses and any(skip.reason == "not UTF-8 text" for skip in bad):
        # Binary, or some other encoding: one entry for the file, not one per stray newline in it.
        return [], [Skipped(str(path), None, "not UTF-8 text: not a responses file")]
    if len(bad) > MAX_NOTES_PER_FILE:
        rest = len(bad) - MAX_NOTES_PER_FILE
        bad = bad[:MAX_NOTES_PER_FILE] + [Skipped(str(path), None, f"and {rest} more malformed lines")]
    return responses, bad


def parse_line(raw: bytes, file: str = "", line: int = 0) -> Response:
    """One line as a Response; ValueError says what is wrong with it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("not JSON") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    types = [name for name in ITEM_TYPES if name in record]
    if len(types) != 1:
        raise ValueError(f"names {'both a question and' if types else 'neither a question nor'} a checkpoint")
    item_type = types[0]
    for name in ("learner", "session", item_type, "version"):
        if not isinstance(record.get(name), str) or not record[name].strip():
            raise ValueError(f"field '{name}' must be non-empty text")
    for name in ("answer", "correct", "attempt", "time"):
        if name not in record:
            raise ValueError(f"field '{name}' is missing")
    correct = record["correct"]
    if not isinstance(correct, bool) and not (correct is None and item_type == "checkpoint"):
        raise ValueError("field 'correct' must be true or false")
    attempt = record["attempt"]
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise ValueError("field 'attempt' must be a whole number from 1")
    if item_type == "checkpoint" and "measured" not in record:
        raise ValueError("field 'measured' is missing")
    unit = record.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise ValueError("field 'unit' must be text")
    return Response(
        learner=record["learner"],
        session=record["session"],
        item_type=item_type,
        item=record[item_type],
        answer=record["answer"],
        correct=correct,
        attempt=attempt,
        time=_time(record["time"]),
        version=record["version"],
        measured=record.get("measured"),
        unit=unit,
        file=file,
        line=line,
    )


def _time(value: Any) -> datetime:
    """An ISO 8601 time; one without a zone is taken as UTC."""
    if not isinstance(value, str):
        raise ValueError("field 'time' must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("field 'time' must be an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)

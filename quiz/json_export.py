"""Export a learner's answers and score as JSON, for instructors and graders."""

from __future__ import annotations

import json
from pathlib import Path

from .grading import Grader

# Bump when the record's shape changes, so collected files can be told apart.
FORMAT = 1


def to_json(grader: Grader) -> str:
    """The attempt as a JSON document (stable key order, UTF-8 text kept readable)."""
    record = {"format": FORMAT, **grader.record()}
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"


def save(grader: Grader, path: str | Path) -> Path:
    """Write the JSON document to path and return the path."""
    path = Path(path)
    path.write_text(to_json(grader), encoding="utf-8")
    return path

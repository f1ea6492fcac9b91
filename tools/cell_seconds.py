"""The data file of each code cell's measured run time (tools/cell_seconds.yaml): written by builds, read by the schedule."""

from __future__ import annotations

import copy
import functools
import hashlib
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

CELL_SECONDS_FILE = Path(__file__).with_name("cell_seconds.yaml")
HEADER = """\
# Each code cell's run time in seconds, measured by `make notebooks` (`python -m tools.course build`):
# nbclient's shell.execute_reply minus iopub.execute_input. Written by the build; do not edit.
# tools/schedule.py adds them to the time model. A cell is found again by its lesson and its index
# among the lesson's code cells; `source` is a short hash of the cell's code, so a changed cell
# counts as unmeasured until the next build. `machine` says where the seconds were measured: a
# build on another machine drops the lessons measured elsewhere (seconds from two machines do not add up).
"""


class CellSecondsError(ValueError):
    """The cell seconds file cannot be read."""


@dataclass(frozen=True)
class CellTime:
    """One code cell's measured run time: its index among the lesson's code cells and its source's hash."""

    cell: int
    source: str
    seconds: float


def source_hash(source: str) -> str:
    """A short hash of a cell's code: enough to notice that the cell changed since it was measured."""
    return hashlib.sha256(source.strip().encode("utf-8")).hexdigest()[:10]


def this_machine() -> dict:
    """The machine a build runs on: CPU model, cores, Python."""
    cpu = platform.processor() or platform.machine()
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
        cpu = found.group(1).strip() if found else cpu
    except OSError:  # no /proc (macOS, Windows)
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}


def load(path: Path = CELL_SECONDS_FILE) -> dict:
    """The file's content, {'machine': {...}, 'lessons': {stem: [{cell, source, seconds}, ...]}}; empty if none."""
    if not path.exists():
        return {"machine": {}, "lessons": {}}
    stat = path.stat()
    return copy.deepcopy(_parsed(path, stat.st_mtime_ns, stat.st_size))  # a copy: record() changes what it loads


@functools.lru_cache(maxsize=4)
def _parsed(path: Path, _mtime_ns: int, _size: int) -> dict:
    """The file parsed once per version of it (the schedule asks once per lesson); libyaml's parser if PyYAML has it."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError as error:
        raise CellSecondsError(f"{path.name} is not valid YAML: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("lessons") or {}, dict):
        raise CellSecondsError(f"{path.name}: expected a mapping with 'machine' and 'lessons'")
    return {"machine": data.get("machine") or {}, "lessons": data.get("lessons") or {}}


def record(path: Path, lesson: str, times: list[CellTime]) -> None:
    """Replace one lesson's measurements in the file, keeping the others measured on this same machine."""
    data = load(path)
    machine = this_machine()
    lessons = data["lessons"] if data["machine"] == machine else {}  # one file, one machine: seconds compare
    lessons[lesson] = [{"cell": t.cell, "source": t.source, "seconds": round(max(t.seconds, 0.0), 2)} for t in times]
    body = yaml.safe_dump(
        {"machine": machine, "lessons": dict(sorted(lessons.items()))},
        sort_keys=False,
        default_flow_style=None,  # one line per cell
        allow_unicode=True,
        width=120,
    )
    path.write_text(HEADER + body, encoding="utf-8")


def lesson_seconds(lesson: str, path: Path = CELL_SECONDS_FILE) -> dict[tuple[int, str], float]:
    """A lesson's measured cells: (code cell index, source hash) -> seconds."""
    return {
        (entry["cell"], entry["source"]): float(entry["seconds"]) for entry in load(path)["lessons"].get(lesson, [])
    }

"""Build the course notebooks from the lesson sources: `python -m tools.course build`."""

from __future__ import annotations

import argparse
import copy
import functools
import sys
import time
from datetime import datetime
from pathlib import Path

import jupytext
import nbformat

from tools import cell_seconds

REPO_ROOT = Path(__file__).resolve().parent.parent
LESSONS_DIR = REPO_ROOT / "lessons"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
FRONT_MATTER_KEYS = ("title", "minutes", "questions", "objectives", "keypoints")


class LessonError(ValueError):
    """A lesson source is missing something the course needs."""


def lesson_paths() -> list[Path]:
    """The lesson sources, in course order (NN-topic.md)."""
    return sorted(LESSONS_DIR.glob("[0-9][0-9]-*.md"))


def notebook_path(lesson: Path, out_dir: Path = NOTEBOOKS_DIR) -> Path:
    """Where the notebook built from this lesson lives."""
    return out_dir / (lesson.stem + ".ipynb")


def _bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def header_cell_source(meta: dict) -> str:
    """The Carpentries-style opening cell: title, time, questions, objectives."""
    return (
        f"# {meta['title']}\n\n"
        f"*About {meta['minutes']} minutes.*\n\n"
        f"**Questions**\n\n{_bullets(meta['questions'])}\n\n"
        f"**Objectives**\n\n{_bullets(meta['objectives'])}"
    )


def keypoints_cell_source(meta: dict) -> str:
    """The closing cell: the lesson's key points."""
    return f"## Key points\n\n{_bullets(meta['keypoints'])}"


def check_front_matter(lesson: Path, meta: dict) -> None:
    """Fail with the lesson and key named when the front matter is incomplete."""
    for key in FRONT_MATTER_KEYS:
        if key not in meta:
            raise LessonError(f"{lesson.name}: front matter has no '{key}'")
    for key in ("questions", "objectives", "keypoints"):
        value = meta[key]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise LessonError(f"{lesson.name}: '{key}' must be a non-empty list of strings")
    if not isinstance(meta["minutes"], int) or meta["minutes"] <= 0:
        raise LessonError(f"{lesson.name}: 'minutes' must be a positive whole number")


def notebook_from_lesson(lesson: Path) -> nbformat.NotebookNode:
    """The unexecuted notebook for a lesson: header cell, the lesson's cells, key points."""
    stat = Path(lesson).stat()
    return copy.deepcopy(_notebook_from_lesson(Path(lesson), stat.st_mtime_ns, stat.st_size))  # a copy: callers run it


@functools.lru_cache(maxsize=64)
def _notebook_from_lesson(lesson: Path, _mtime_ns: int, _size: int) -> nbformat.NotebookNode:
    """The notebook of one version of the lesson file, parsed once: the tests and the schedule ask for it often."""
    nb = jupytext.read(lesson)
    check_front_matter(lesson, nb.metadata)
    cells = [nbformat.v4.new_markdown_cell(header_cell_source(nb.metadata))]
    cells += nb.cells
    cells.append(nbformat.v4.new_markdown_cell(keypoints_cell_source(nb.metadata)))
    # Stable ids keep rebuilt notebooks diff-friendly.
    for number, cell in enumerate(cells, start=1):
        cell["id"] = f"{lesson.stem[:2]}-{number:02d}"
    nb.cells = cells
    nb.metadata.pop("jupytext", None)
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def cell_sources(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(cell type, source) pairs: what must match between lesson and notebook."""
    return [(cell.cell_type, cell.source) for cell in nb.cells]


def execute(nb: nbformat.NotebookNode, timeout: int = 300, cwd: Path = NOTEBOOKS_DIR) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel started in cwd (notebooks/, as a learner would), timing each cell."""
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        record_timing=True,  # the schedule prices each cell's run time (take_cell_seconds)
    )
    client.execute()
    return nb


def _timestamp(value: str) -> datetime:
    # nbclient writes ISO 8601 with a Z; fromisoformat takes the Z only from Python 3.11
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def take_cell_seconds(nb: nbformat.NotebookNode) -> list[cell_seconds.CellTime]:
    """Each code cell's run time (execute_input to execute_reply), its timestamps removed from the notebook.

    The timestamps would change at every build: nbval and git diffs must see none of them.
    """
    times = []
    for index, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        stamps = cell.metadata.pop("execution", None) or {}
        if "iopub.execute_input" in stamps and "shell.execute_reply" in stamps:
            took = _timestamp(stamps["shell.execute_reply"]) - _timestamp(stamps["iopub.execute_input"])
            times.append(cell_seconds.CellTime(index, cell_seconds.source_hash(cell.source), took.total_seconds()))
    return times


def build(
    lesson: Path,
    run: bool = True,
    out_dir: Path = NOTEBOOKS_DIR,
    seconds_file: Path = cell_seconds.CELL_SECONDS_FILE,
) -> Path:
    """Write the notebook for one lesson into out_dir; when run, execute it and record its cells' seconds."""
    nb = notebook_from_lesson(lesson)
    out_dir.mkdir(parents=True, exist_ok=True)
    if run:
        execute(nb, cwd=out_dir)
        cell_seconds.record(seconds_file, lesson.stem, take_cell_seconds(nb))
    target = notebook_path(lesson, out_dir)
    nbformat.write(nb, target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line: build the given lessons, or all of them."""
    parser = argparse.ArgumentParser(prog="python -m tools.course", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="build notebooks from lessons")
    build_cmd.add_argument("lessons", nargs="*", type=Path, help="lesson files (default: all)")
    build_cmd.add_argument("--no-run", action="store_true", help="do not execute the notebooks")
    build_cmd.add_argument(
        "--out", type=Path, default=NOTEBOOKS_DIR, help="folder to write the notebooks into (default: notebooks/)"
    )
    build_cmd.add_argument(
        "--cell-seconds",
        type=Path,
        default=cell_seconds.CELL_SECONDS_FILE,
        help="data file of each code cell's run time (default: tools/cell_seconds.yaml)",
    )
    args = parser.parse_args(argv)
    lessons = [p.resolve() for p in args.lessons] or lesson_paths()
    missing = [str(p) for p in lessons if not p.is_file()]
    if missing:
        print(f"error: no lesson file {', '.join(missing)}", file=sys.stderr)
        return 2
    for lesson in lessons:
        started = time.perf_counter()
        try:
            target = build(lesson, run=not args.no_run, out_dir=args.out.resolve(), seconds_file=args.cell_seconds)
        except (LessonError, cell_seconds.CellSecondsError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        took = time.perf_counter() - started
        print(f"built {_shown(target)} in {took:.1f} s")
    return 0


def _shown(path: Path) -> str:
    """A path relative to the repository when it is inside it."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


if __name__ == "__main__":
    sys.exit(main())

"""Build the course notebooks from the lesson sources: `python -m tools.course build`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jupytext
import nbformat

REPO_ROOT = Path(__file__).resolve().parent.parent
LESSONS_DIR = REPO_ROOT / "lessons"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
FRONT_MATTER_KEYS = ("title", "minutes", "questions", "objectives", "keypoints")


class LessonError(ValueError):
    """A lesson source is missing something the course needs."""


def lesson_paths() -> list[Path]:
    """The lesson sources, in course order (NN-topic.md)."""
    return sorted(LESSONS_DIR.glob("[0-9][0-9]-*.md"))


def notebook_path(lesson: Path) -> Path:
    """Where the notebook built from this lesson lives."""
    return NOTEBOOKS_DIR / (lesson.stem + ".ipynb")


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


def execute(nb: nbformat.NotebookNode, timeout: int = 300) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel started in notebooks/, as a learner would."""
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
        record_timing=False,
    )
    client.execute()
    return nb


def build(lesson: Path, run: bool = True) -> Path:
    """Write the notebook for one lesson (executed unless run is False); return its path."""
    nb = notebook_from_lesson(lesson)
    if run:
        execute(nb)
    target = notebook_path(lesson)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line: build the given lessons, or all of them."""
    parser = argparse.ArgumentParser(prog="python -m tools.course", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="build notebooks from lessons")
    build_cmd.add_argument("lessons", nargs="*", type=Path, help="lesson files (default: all)")
    build_cmd.add_argument("--no-run", action="store_true", help="do not execute the notebooks")
    args = parser.parse_args(argv)
    lessons = [p.resolve() for p in args.lessons] or lesson_paths()
    for lesson in lessons:
        started = time.perf_counter()
        try:
            target = build(lesson, run=not args.no_run)
        except LessonError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        took = time.perf_counter() - started
        print(f"built {target.relative_to(REPO_ROOT)} in {took:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

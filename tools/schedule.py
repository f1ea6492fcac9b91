"""The teaching schedule, from the lessons' front matter: `python -m tools.schedule [--write]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext

from tools.course import REPO_ROOT, check_front_matter, lesson_paths

GUIDE = REPO_ROOT / "INSTRUCTORS.md"
# The guide's table sits between these lines; --write replaces what is between them.
BEGIN = "<!-- schedule: written by `python -m tools.schedule --write` from lessons/; do not edit -->"
END = "<!-- end of schedule -->"


def schedule_table(lessons: list[Path] | None = None) -> str:
    """A Markdown table: each lesson's notebook, title and minutes, and the total."""
    rows = ["| notebook | title | minutes |", "| --- | --- | ---: |"]
    total = 0
    for lesson in lesson_paths() if lessons is None else lessons:
        meta = jupytext.read(lesson).metadata
        check_front_matter(lesson, meta)
        rows.append(f"| `notebooks/{lesson.stem}.ipynb` | {meta['title']} | {meta['minutes']} |")
        total += meta["minutes"]
    rows.append(f"| | **total** | **{total}** |")
    return "\n".join(rows)


def guide_table(guide: Path = GUIDE) -> str:
    """The table now in the guide, between the markers."""
    text = guide.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise ValueError(f"{guide.name} has no schedule markers ({BEGIN!r} ... {END!r})")
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def write_guide(guide: Path = GUIDE) -> bool:
    """Put the current schedule into the guide; whether anything changed."""
    old = guide_table(guide)
    new = schedule_table()
    if old == new:
        return False
    text = guide.read_text(encoding="utf-8")
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    guide.write_text(f"{before}{BEGIN}\n{new}\n{END}{after}", encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    """Print the schedule, or write it into the instructor guide."""
    parser = argparse.ArgumentParser(prog="python -m tools.schedule", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"update the table in {GUIDE.name}")
    args = parser.parse_args(argv)
    if not args.write:
        print(schedule_table())
        return 0
    changed = write_guide()
    print(f"{GUIDE.name}: schedule {'updated' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

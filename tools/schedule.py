"""The teaching schedule from the time model (tools/time_model.yaml): `python -m tools.schedule [--write]`.

A lesson's minutes are its reading time, plus a time per code cell, prediction, question and
exercise. Sections (`## ` headings) are timed one by one, so that the core track can be a path
through marked sections: a lesson's front matter says `core: all`, or lists the titles of its
core sections (its opening and key points then count too).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jupytext
import yaml

from quiz import load_bank
from tools.course import REPO_ROOT, check_front_matter, lesson_paths

GUIDE = REPO_ROOT / "INSTRUCTORS.md"
MODEL_FILE = Path(__file__).with_name("time_model.yaml")
# The guide's table sits between these lines; --write replaces what is between them.
BEGIN = "<!-- schedule: written by `python -m tools.schedule --write` from lessons/; do not edit -->"
END = "<!-- end of schedule -->"
OPENING = "(opening)"  # the part of a lesson before its first section: header, introduction, setup
CLOSING = "(key points)"
FENCED = re.compile(r"^(```|~~~).*?^\1\s*$", re.MULTILINE | re.DOTALL)
DETAILS = re.compile(r"<details>.*?</details>", re.DOTALL)  # a solution: its time is the exercise's
TAG = re.compile(r"<[^>]+>")
WORD = re.compile(r"[\w'’`*-]+")


@cache
def model() -> dict:
    """The time model's rates and limits."""
    return yaml.safe_load(MODEL_FILE.read_text(encoding="utf-8"))


def words(markdown: str) -> int:
    """The words a learner reads in Markdown: no code blocks, no solutions, no HTML tags."""
    prose = TAG.sub(" ", DETAILS.sub(" ", FENCED.sub(" ", markdown)))
    return len(WORD.findall(prose))


@cache  # read once: every lesson's every section asks (144 loads of the bank took 9 s)
def closing_quiz_questions() -> int:
    """How many questions the closing quiz (`quiz.show()`) asks."""
    return len(load_bank().questions)


@dataclass
class Section:
    """One part of a lesson and what it asks of the learner."""

    title: str
    words: int = 0
    code_cells: int = 0
    predictions: int = 0
    questions: int = 0
    exercise: bool = False

    @property
    def minutes(self) -> float:
        """The model's minutes for this part (not rounded)."""
        rates = model()
        return (
            self.words / rates["words_per_minute"]
            + self.code_cells * rates["minutes_per_code_cell"]
            + self.predictions * rates["minutes_per_prediction"]
            + self.questions * rates["minutes_per_question"]
            + self.exercise * rates["minutes_per_exercise"]
        )


@dataclass
class LessonTime:
    """A lesson's parts as the model times them, the minutes its front matter claims, and its core sections."""

    path: Path
    title: str
    claimed: int
    sections: list[Section] = field(default_factory=list)
    core: list[str] = field(default_factory=list)  # titles of the core sections; empty: not in the core track

    @property
    def minutes(self) -> int:
        """The model's minutes for the whole lesson, rounded up."""
        return math.ceil(sum(section.minutes for section in self.sections))

    @property
    def core_minutes(self) -> int:
        """The model's minutes for the lesson's core sections (with its opening and key points), rounded up."""
        if not self.core:
            return 0
        chosen = set(self.core) | {OPENING, CLOSING}
        return math.ceil(sum(section.minutes for section in self.sections if section.title in chosen))

    @property
    def notebook(self) -> str:
        """The notebook learners open."""
        return f"notebooks/{self.path.stem}.ipynb"


def time_lesson(lesson: Path) -> LessonTime:
    """Time a lesson source section by section; ValueError if its core list names no section of it."""
    nb = jupytext.read(lesson)
    meta = nb.metadata
    check_front_matter(lesson, meta)
    header = " ".join([meta["title"], *meta["questions"], *meta["objectives"]])
    sections = [Section(OPENING, words(header))]
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for part in re.split(r"^(?=## )", cell.source, flags=re.MULTILINE):
                if part.startswith("## "):
                    title = part.splitlines()[0][3:].strip()
                    sections.append(Section(title, exercise=title.lower().startswith("exercise")))
                sections[-1].words += words(part)
        elif cell.cell_type == "code":
            section = sections[-1]
            section.code_cells += 1
            section.words += len(WORD.findall(cell.source))  # the code is read too
            section.predictions += cell.source.count("quiz.checkpoint(")
            section.questions += cell.source.count("quiz.ask(")
            section.questions += cell.source.count("quiz.show(") * closing_quiz_questions()
    sections.append(Section(CLOSING, words(" ".join(meta["keypoints"]))))
    core = meta.get("core", [])
    titles = [section.title for section in sections]
    core = titles if core == "all" else list(core)
    unknown = [title for title in core if title not in titles]
    if unknown:
        raise ValueError(f"{lesson.name}: 'core' names no section {unknown}; its sections: {titles[1:-1]}")
    return LessonTime(lesson, meta["title"], meta["minutes"], sections, core)


def course_times(lessons: list[Path] | None = None) -> list[LessonTime]:
    """Every lesson, timed, in course order."""
    return [time_lesson(lesson) for lesson in (lesson_paths() if lessons is None else lessons)]


def track_minutes(times: list[LessonTime] | None = None) -> dict[str, int]:
    """The two tracks' minutes: the core workshop, and the whole course (core plus production track)."""
    times = course_times() if times is None else times
    return {"core": sum(t.core_minutes for t in times), "whole": sum(t.claimed for t in times)}


def schedule_table(lessons: list[Path] | None = None) -> str:
    """A Markdown table: each lesson's notebook, title, minutes, and its core-track minutes; the totals."""
    times = course_times(lessons)
    rows = ["| notebook | title | minutes | core track |", "| --- | --- | ---: | ---: |"]
    for t in times:
        rows.append(f"| `{t.notebook}` | {t.title} | {t.claimed} | {t.core_minutes or '–'} |")
    tracks = track_minutes(times)
    rows.append(f"| | **total** | **{tracks['whole']}** | **{tracks['core']}** |")
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


def model_report() -> str:
    """Per lesson: the minutes claimed, the model's, and where they go (for authors)."""
    lines = []
    for t in course_times():
        lines.append(f"{t.path.stem}: claims {t.claimed}, model {t.minutes}, core {t.core_minutes}")
        for s in t.sections:
            lines.append(
                f"    {s.minutes:5.1f}  {s.title[:50]:<50} {s.words:4} words {s.code_cells:2} cells"
                + (f" {s.predictions} pred" if s.predictions else "")
                + (f" {s.questions} q" if s.questions else "")
                + (" exercise" if s.exercise else "")
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the schedule, or the model's account of every lesson, or write the schedule into the guide."""
    parser = argparse.ArgumentParser(prog="python -m tools.schedule", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"update the table in {GUIDE.name}")
    parser.add_argument("--explain", action="store_true", help="the model's minutes, section by section")
    args = parser.parse_args(argv)
    if args.explain:
        print(model_report())
        return 0
    if not args.write:
        print(schedule_table())
        return 0
    changed = write_guide()
    print(f"{GUIDE.name}: schedule {'updated' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

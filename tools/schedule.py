"""The teaching schedule from the time model (tools/time_model.yaml): `python -m tools.schedule [--write]`.

A lesson's minutes are its reading time, plus a time per code cell (with its measured run time,
tools/cell_seconds.yaml), the source a `show_source(...)` cell shows, a time per prediction and
question, and each exercise priced by the code it asks for. Sections (`## ` headings) are timed one by one, so that the core track can be a path
through marked sections: a lesson's front matter says `core: all`, or lists the titles of its
core sections (its opening and key points then count too).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import math
import re
import sys
import textwrap
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jupytext
import yaml

from quiz import load_bank
from tools import cell_seconds
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
SOLUTION_CODE = re.compile(r"^(```|~~~)python\s*$(.*?)^\1\s*$", re.MULTILINE | re.DOTALL)
MAGIC = re.compile(r"^\s*[%!].*$", re.MULTILINE)  # IPython's %magics and !shell lines are not Python


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
    run_seconds: float = 0.0  # the measured run time of its measured code cells
    unmeasured_cells: int = 0  # code cells with no measurement (yet): their run time counts as nothing
    source_lines: int = 0  # lines of source its show_source cells display
    exercise_lines: int = 0  # lines of code an exercise asks for: its first attempt and its solution

    @property
    def exercise_minutes(self) -> float:
        """What the exercise asks: a base time plus a time per line of its code (0 when not an exercise)."""
        rates = model()
        if not self.exercise:
            return 0.0
        return rates["minutes_per_exercise"] + self.exercise_lines * rates["minutes_per_exercise_line"]

    @property
    def minutes(self) -> float:
        """The model's minutes for this part (not rounded)."""
        rates = model()
        return (
            self.words / rates["words_per_minute"]
            + self.code_cells * rates["minutes_per_code_cell"]
            + self.run_seconds / 60
            + self.source_lines / rates["source_lines_per_minute"]
            + self.predictions * rates["minutes_per_prediction"]
            + self.questions * rates["minutes_per_question"]
            + self.exercise_minutes
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

    def sections_titled(self, *titles: str) -> list[Section]:
        """The sections with these titles, in that order."""
        by_title = {section.title: section for section in self.sections}
        return [by_title[title] for title in titles]

    @property
    def unmeasured_cells(self) -> int:
        """Code cells whose run time the model does not know yet (no build measured them, or they changed)."""
        return sum(section.unmeasured_cells for section in self.sections)

    @property
    def notebook(self) -> str:
        """The notebook learners open."""
        return f"notebooks/{self.path.stem}.ipynb"


def _python(code: str) -> ast.Module:
    return ast.parse(textwrap.dedent(MAGIC.sub("", code)))  # a solution may show an indented excerpt


def _imports(code: str) -> list[ast.stmt]:
    """The import statements of a cell (top level: a lesson imports at the top of its cells)."""
    return [node for node in _python(code).body if isinstance(node, ast.Import | ast.ImportFrom)]


def _bound(imports: list[ast.stmt]) -> dict[str, str]:
    """The names the imports bind, each to the dotted path of what it names."""
    names = {}
    for node in imports:
        for alias in node.names:
            if isinstance(node, ast.Import):  # `import a.b` binds a; `import a.b as c` binds c to a.b
                bound = alias.asname or alias.name.split(".")[0]
                names[bound] = alias.name if alias.asname else bound
            else:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr) -> str:
    """`queue.is_temporary` as a string; ValueError for anything but names and attributes."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    raise ValueError(f"show_source({ast.unparse(node)}): the model reads only names and attributes")


@cache
def _resolve(path: str) -> object:
    """The object a dotted path names: the longest importable module, then attributes."""
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(path)


@cache
def _source_lines(path: str) -> int:
    """The non-blank lines show_source displays for an object (inspect.getsource, as show_source does)."""
    obj = inspect.unwrap(_resolve(path))
    return sum(1 for line in inspect.getsource(obj).splitlines() if line.strip())


def shown_source_lines(code: str, earlier_code: list[str]) -> int:
    """Lines of source the show_source(...) calls in code display, names bound by imports in it or earlier cells."""
    names = _bound([node for source in [*earlier_code, code] for node in _imports(source)])
    lines = 0
    for node in ast.walk(_python(code)):
        if not (isinstance(node, ast.Call) and _dotted_or_none(node.func) in ("show_source", "lab.show_source")):
            continue
        for arg in node.args:
            root, _, rest = _dotted(arg).partition(".")
            if root not in names:
                raise ValueError(f"show_source({ast.unparse(arg)}): '{root}' is not imported in the lesson")
            lines += _source_lines(".".join(filter(None, [names[root], rest])))
    return lines


def _dotted_or_none(node: ast.expr) -> str | None:
    try:
        return _dotted(node)
    except ValueError:
        return None


def _shown_lines(lesson: Path, where: str, code: str, earlier_code: list[str]) -> int:
    """shown_source_lines, its failure a ValueError naming the lesson and the cell."""
    try:
        return shown_source_lines(code, earlier_code)
    except (ValueError, ImportError, AttributeError, SyntaxError) as error:
        raise ValueError(f"{lesson.name}: {where}: {error}") from None


def _code_lines(code: str) -> int:
    return sum(1 for line in code.splitlines() if line.strip())


def time_lesson(lesson: Path, seconds_file: Path = cell_seconds.CELL_SECONDS_FILE) -> LessonTime:
    """Time a lesson source section by section; ValueError if its core list names no section of it."""
    nb = jupytext.read(lesson)
    meta = nb.metadata
    check_front_matter(lesson, meta)
    measured = cell_seconds.lesson_seconds(lesson.stem, seconds_file)
    by_source = {source: seconds for (_, source), seconds in measured.items()}  # a cell that moved, unchanged
    header = " ".join([meta["title"], *meta["questions"], *meta["objectives"]])
    sections = [Section(OPENING, words(header))]
    earlier_code: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for part in re.split(r"^(?=## )", cell.source, flags=re.MULTILINE):
                if part.startswith("## "):
                    title = part.splitlines()[0][3:].strip()
                    sections.append(Section(title, exercise=title.lower().startswith("exercise")))
                sections[-1].words += words(part)
                if sections[-1].exercise:  # the solution's code, and the source it shows
                    for _, solution in SOLUTION_CODE.findall(part):
                        where = f"a solution in '{sections[-1].title}'"
                        shown = _shown_lines(lesson, where, solution, earlier_code)
                        sections[-1].exercise_lines += _code_lines(solution) + shown
        elif cell.cell_type == "code":
            section = sections[-1]
            section.code_cells += 1
            key = (len(earlier_code), cell_seconds.source_hash(cell.source))
            seconds = measured.get(key, by_source.get(key[1]))
            if seconds is None:
                section.unmeasured_cells += 1
            else:
                section.run_seconds += seconds
            section.source_lines += _shown_lines(lesson, f"code cell {len(earlier_code)}", cell.source, earlier_code)
            if section.exercise:  # the first attempt the learner changes
                section.exercise_lines += _code_lines(cell.source)
            earlier_code.append(cell.source)
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
    return "\n".join(rows) + "\n\n" + run_time_note(times)


def run_time_note(times: list[LessonTime], seconds_file: Path = cell_seconds.CELL_SECONDS_FILE) -> str:
    """One sentence: how many code cells the model has a measured run time for, and from which machine."""
    cells = sum(section.code_cells for t in times for section in t.sections)
    unmeasured = sum(t.unmeasured_cells for t in times)
    rate = model()["minutes_per_code_cell"]
    machine = cell_seconds.load(seconds_file)["machine"]
    where = (
        f" on {machine.get('cpu')}, {machine.get('cores')} cores, Python {machine.get('python')}"
        if cells > unmeasured
        else ""
    )
    return (
        f"Run times: {cells - unmeasured} of {cells} code cells measured{where} (`tools/cell_seconds.yaml`, "
        f"written by `make notebooks`); {unmeasured} unmeasured count {rate} minutes each, their run time none."
    )


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
        lines.append(
            f"{t.path.stem}: claims {t.claimed}, model {t.minutes}, core {t.core_minutes}"
            + (f", {t.unmeasured_cells} cells unmeasured" if t.unmeasured_cells else "")
        )
        for s in t.sections:
            lines.append(
                f"    {s.minutes:5.1f}  {s.title[:50]:<50} {s.words:4} words {s.code_cells:2} cells"
                + (f" {s.run_seconds:.0f} s run" if s.run_seconds else "")
                + (f" {s.source_lines} source lines" if s.source_lines else "")
                + (f" {s.predictions} pred" if s.predictions else "")
                + (f" {s.questions} q" if s.questions else "")
                + (f" exercise of {s.exercise_lines} lines ({s.exercise_minutes:.1f} min)" if s.exercise else "")
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

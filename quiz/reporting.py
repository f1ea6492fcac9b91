"""The class report: who answered what, first try and in the end, and predictions against measurements."""

from __future__ import annotations

import json
import math
import numbers
import statistics
import sys
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bank import Bank, Question, format_number, format_percent, load_bank
from .grading import grade
from .records import Response, Skipped, read_folders

WIDTH = 88
BAR = "#"
BAR_WIDTH = 30


@dataclass
class QuestionStats:
    """One question across the class: each learner's latest session counts."""

    question: Question
    answered: int = 0
    first_try_correct: int = 0
    eventually_correct: int = 0
    first_answers: dict[str, int] = field(default_factory=dict)

    def right_keys(self) -> set[str]:
        """The keys of first_answers that are right: the answer's options, or 'close' for a number."""
        if self.question.kind == "numeric":
            return {"close"}
        answer = self.question.answer
        return set(answer) if isinstance(answer, tuple) else {answer}

    def most_chosen_wrong(self) -> tuple[str, int] | None:
        """The wrong first answer most learners gave (ties: the first in option order), None if none."""
        wrong = [(key, count) for key, count in self.first_answers.items() if key not in self.right_keys() and count]
        return max(wrong, key=lambda pair: pair[1]) if wrong else None

    def label(self, key: str) -> tuple[str, str]:
        """An answer key's text and feedback, for the class to discuss."""
        if self.question.kind == "numeric":
            unit = f" {self.question.unit}" if self.question.unit else ""
            target = f"{format_number(self.question.answer)}{unit}"
            words = {
                "low": f"too low (under {target})",
                "close": f"close to {target}",
                "high": f"too high (over {target})",
            }
            return words[key], self.question.feedback[key]
        option = self.question.option(key)
        return option.text, option.feedback

    def to_dict(self) -> dict[str, Any]:
        """As --json prints it."""
        return {
            "id": self.question.id,
            "answered": self.answered,
            "first_try_correct": self.first_try_correct,
            "eventually_correct": self.eventually_correct,
            "first_answers": dict(self.first_answers),
        }


@dataclass
class CheckpointStats:
    """One checkpoint across the class: each learner's last reveal in their latest session."""

    id: str
    spec: Question | None
    kind: str
    unit: str | None
    resolved: int = 0
    predicted: int = 0
    close: int = 0
    relative_errors: list[float] = field(default_factory=list)
    measurements: list[float] = field(default_factory=list)
    predictions: dict[str, int] = field(default_factory=dict)
    measured: dict[str, int] = field(default_factory=dict)

    @property
    def median_relative_error(self) -> float | None:
        """The middle (prediction - measured) / measured: below 0, the class predicted too little."""
        return statistics.median(self.relative_errors) if self.relative_errors else None

    @property
    def median_absolute_relative_error(self) -> float | None:
        """The middle miss, whichever way: how far off a typical prediction was."""
        return statistics.median(abs(e) for e in self.relative_errors) if self.relative_errors else None

    @property
    def median_measured(self) -> float | None:
        """The middle measurement."""
        return statistics.median(self.measurements) if self.measurements else None

    @property
    def prompt(self) -> str:
        """What was asked, when the bank defines the checkpoint."""
        return self.spec.prompt if self.spec else ""

    def option_keys(self) -> list[str]:
        """The options predicted or measured, in option order (first seen, for a checkpoint from a cell)."""
        return list(dict.fromkeys([*self.predictions, *self.measured]))

    def label(self, key: str) -> str:
        """An option's text (the key itself for a checkpoint defined in a lesson cell)."""
        if self.spec is not None:
            for option in self.spec.options:
                if option.key == key:
                    return option.text
        return key

    def to_dict(self) -> dict[str, Any]:
        """As --json prints it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "unit": self.unit,
            "resolved": self.resolved,
            "predicted": self.predicted,
            "close": self.close,
            "median_relative_error": _rounded(self.median_relative_error),
            "median_absolute_relative_error": _rounded(self.median_absolute_relative_error),
            "median_measured": _rounded(self.median_measured),
            "predictions": dict(self.predictions),
            "measured": dict(self.measured),
        }


@dataclass
class ClassReport:
    """What a class answered, read from the folders learners recorded into."""

    folders: list[str]
    bank: Bank
    learners: int
    questions: list[QuestionStats]
    checkpoints: list[CheckpointStats]
    skipped: list[Skipped]

    @property
    def empty(self) -> bool:
        """True when nobody has answered anything yet."""
        return self.learners == 0

    @property
    def empty_message(self) -> str:
        """What to say when there is nothing to report."""
        return f"No responses yet in {', '.join(self.folders)}: nobody has checked an answer or revealed a checkpoint."

    def to_dict(self) -> dict[str, Any]:
        """The --json document: learners, questions in bank order, checkpoints, skipped files and lines."""
        return {
            "learners": self.learners,
            "questions": [stats.to_dict() for stats in self.questions],
            "checkpoints": [stats.to_dict() for stats in self.checkpoints],
            "skipped": [skip.to_dict() for skip in self.skipped],
        }

    def to_json(self) -> str:
        """to_dict() as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_text(self) -> str:
        """The terminal table."""
        return text_report(self)

    def to_html(self) -> str:
        """One self-contained page, charts inlined."""
        from .report_html import html_page

        return html_page(self)

    def _repr_html_(self) -> str:
        from .report_html import html_body

        return html_body(self)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        counts = f"{self.learners} learners, {len(self.questions)} questions, {len(self.checkpoints)} checkpoints"
        return f"ClassReport({counts})"


def build_report(folders, bank: Bank | str | Path | None = None) -> ClassReport:
    """Read the folders and count; FolderError for a folder that is not there."""
    if not isinstance(bank, Bank):
        bank = load_bank(bank)
    folders = [str(folder) for folder in folders]
    responses, skipped = read_folders(folders)
    usable = []
    for response in responses:
        problem = _problem(bank, response)
        if problem:
            skipped.append(Skipped(response.file, response.line, problem))
        else:
            usable.append(response)
    latest = latest_sessions(usable)
    learners = len({learner for learner, _type, _item in latest})
    questions = [_question_stats(question, latest) for question in bank.questions]
    seen = sorted({item for _learner, item_type, item in latest if item_type == "checkpoint"})
    ids = [spec.id for spec in bank.checkpoints] + [item for item in seen if bank.checkpoint(item) is None]
    checkpoints = [_checkpoint_stats(item, bank.checkpoint(item), latest) for item in ids]
    skipped.sort(key=lambda skip: (skip.file, skip.line if skip.line is not None else math.inf))
    return ClassReport(folders, bank, learners, questions, checkpoints, skipped)


def class_report(*folders: str | Path, bank: Bank | str | Path | None = None) -> ClassReport:
    """The class report for a notebook: displays as HTML with charts; skipped lines are named on stderr."""
    if not folders:
        raise TypeError("class_report() needs at least one folder, e.g. class_report('/srv/quiz-responses')")
    report = build_report(folders, bank)
    for skip in report.skipped:
        print(f"quiz report: skipped {skip}", file=sys.stderr)
    return report


def latest_sessions(responses: list[Response]) -> dict[tuple[str, str, str], list[Response]]:
    """(learner, item type, item) -> the lines of the learner's latest session with that item, in order."""
    # Latest by the session's first line: a learner who re-runs the quiz cell starts a new
    # session, and that is the one that counts. Files do not matter: lines are grouped by the
    # learner they name, so a learner's lines in several files or folders are one learner.
    by_item: dict[tuple[str, str, str], dict[str, list[Response]]] = defaultdict(lambda: defaultdict(list))
    for response in responses:
        by_item[(response.learner, response.item_type, response.item)][response.session].append(response)
    latest = {}
    for key, sessions in by_item.items():
        lines = max(sessions.values(), key=lambda lines: (min(r.time for r in lines), lines[0].session))
        latest[key] = sorted(lines, key=lambda r: (r.attempt, r.time))
    return latest


def _problem(bank: Bank, response: Response) -> str:
    """Why a well-formed line still cannot be counted ('' if it can)."""
    if response.item_type == "checkpoint":
        spec = bank.checkpoint(response.item)
        if spec is not None and spec.kind == "numeric":
            for name, value in (("measured", response.measured), ("answer", response.answer)):
                if (value is not None or name == "measured") and not _is_number(value):
                    return f"checkpoint '{response.item}' needs a number in field '{name}'"
        return ""
    try:
        question = bank.question(response.item)
    except ValueError:
        return f"unknown question '{response.item}' (not in the bank {bank.source}; pass --bank?)"
    try:
        _grade(question, response.answer)
    except (ValueError, TypeError) as error:
        return f"answer {response.answer!r} does not fit question '{question.id}': {error}"
    return ""


def _grade(question: Question, answer: Any):
    """Grade a recorded answer as the quiz did: strings are keys, not typed text."""
    if question.kind == "numeric" and not _is_number(answer):
        raise ValueError("not a number")
    if question.kind == "single" and not isinstance(answer, str):
        raise ValueError("not an option key")
    result = grade(question, answer)
    if not result.graded:
        raise ValueError("no answer")
    return result


def _question_stats(question: Question, latest) -> QuestionStats:
    if question.kind == "numeric":
        first_answers = dict.fromkeys(("low", "close", "high"), 0)
    else:
        first_answers = {option.key: 0 for option in question.options}
    stats = QuestionStats(question, first_answers=first_answers)
    for (_learner, item_type, item), lines in latest.items():
        if item_type != "question" or item != question.id:
            continue
        results = [_grade(question, line.answer) for line in lines]
        stats.answered += 1
        stats.first_try_correct += results[0].correct
        stats.eventually_correct += any(result.correct for result in results)
        first = results[0]
        if question.kind == "numeric":
            stats.first_answers[first.direction] += 1
        else:
            for key in first.answer if isinstance(first.answer, tuple) else (first.answer,):
                stats.first_answers[key] += 1
    return stats


def _checkpoint_stats(item: str, spec: Question | None, latest) -> CheckpointStats:
    lines = [lines[-1] for (_l, item_type, name), lines in latest.items() if item_type == "checkpoint" and name == item]
    if spec is not None:
        kind, unit = spec.kind, spec.unit
    else:  # defined in a lesson cell: the lines say what it is
        kind = "numeric" if lines and all(_is_number(line.measured) for line in lines) else "choice"
        unit = next((line.unit for line in lines if line.unit), None)
    stats = CheckpointStats(item, spec, kind, unit)
    if spec is not None and spec.kind != "numeric":
        stats.predictions = {option.key: 0 for option in spec.options}
        stats.measured = {option.key: 0 for option in spec.options}
    for line in lines:
        stats.resolved += 1
        stats.predicted += line.answer is not None
        stats.close += line.correct is True
        if kind == "numeric":
            stats.measurements.append(float(line.measured))
            if _is_number(line.answer) and line.measured:
                stats.relative_errors.append((line.answer - line.measured) / abs(line.measured))
            continue
        for target, value in ((stats.predictions, line.answer), (stats.measured, line.measured)):
            for key in value if isinstance(value, list) else ([value] if isinstance(value, str) else []):
                target[key] = target.get(key, 0) + 1
    return stats


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def percent(part: int, whole: int) -> str:
    """'2 of 3 (67%)'."""
    return f"{part} of {whole} ({round(100 * part / whole)}%)" if whole else f"{part} of {whole}"


def signed_percent(fraction: float) -> str:
    """'-35%' or '+120%'."""
    sign = "+" if round(fraction * 100) > 0 else "-" if round(fraction * 100) < 0 else ""
    return sign + format_percent(fraction)


# --- the terminal table --------------------------------------------------------------------


def text_report(report: ClassReport) -> str:
    """The report as plain text for a terminal."""
    if report.empty:
        return report.empty_message
    noun = "learner" if report.learners == 1 else "learners"
    lines = [f"Class report: {report.learners} {noun}, from {', '.join(report.folders)}", report.bank.title, ""]
    for number, stats in enumerate(report.questions, start=1):
        lines += _question_text(number, stats, report.learners) + [""]
    for stats in report.checkpoints:
        lines += _checkpoint_text(stats) + [""]
    if report.skipped:
        lines.append(f"Skipped {len(report.skipped)} files or lines that are not responses (listed on stderr).")
    return "\n".join(lines).rstrip() + "\n"


def _wrapped(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(" ".join(text.split()), WIDTH, initial_indent=indent, subsequent_indent=indent)


def _bars(rows: list[tuple[str, int, bool]], total: int) -> list[str]:
    """'  * key   3  ###' rows; a star marks the right answers."""
    width = max((len(key) for key, _count, _right in rows), default=0)
    scale = max([count for _key, count, _right in rows] + [1])
    lines = []
    for key, count, right in rows:
        bar = BAR * round(BAR_WIDTH * count / scale) if count else ""
        lines.append(f"    {'*' if right else ' '} {key:<{width}}  {count:>3}  {bar}".rstrip())
    return lines


def _question_text(number: int, stats: QuestionStats, learners: int) -> list[str]:
    question = stats.question
    lines = [f"Question {number} ({question.id}, {question.kind})"]
    lines += _wrapped(question.prompt)
    answered = stats.answered
    lines.append(
        f"  answered by {answered} · first try correct {percent(stats.first_try_correct, answered)}"
        f" · eventually correct {percent(stats.eventually_correct, answered)}"
    )
    if not answered:
        return lines
    right = stats.right_keys()
    lines.append("  first answers (* = right):")
    lines += _bars([(key, count, key in right) for key, count in stats.first_answers.items()], answered)
    wrong = stats.most_chosen_wrong()
    if wrong:
        key, count = wrong
        text, feedback = stats.label(key)
        lines.append(f"  most chosen wrong answer: {key}, chosen first by {percent(count, answered)}")
        lines += _wrapped(f"\u201c{text}\u201d", "    ")
        lines += _wrapped(f"Its feedback: {feedback}", "    ")
    return lines


def _checkpoint_text(stats: CheckpointStats) -> list[str]:
    unit = f", {stats.unit}" if stats.unit else ""
    lines = [f"Checkpoint {stats.id} ({stats.kind}{unit})"]
    if stats.prompt:
        lines += _wrapped(stats.prompt)
    counts = f"  revealed by {stats.resolved} · predicted by {stats.predicted}"
    if stats.predicted:
        match = "close" if stats.kind == "numeric" else "matched"
        counts += f" · {match} {percent(stats.close, stats.predicted)}"
    lines.append(counts)
    if not stats.resolved:
        return lines
    if stats.kind == "numeric":
        measured = stats.median_measured
        unit_text = f" {stats.unit}" if stats.unit else ""
        lines.append(f"  measured: median {format_number(measured)}{unit_text}")
        if stats.relative_errors:
            middle = stats.median_relative_error
            side = "below" if middle < 0 else "above"
            lines.append(
                f"  median relative error {signed_percent(middle)} (predictions {side} the measurement);"
                f" median miss {format_percent(stats.median_absolute_relative_error)}"
            )
        return lines
    lines.append("  predicted / measured:")
    width = max((len(key) for key in stats.option_keys()), default=0)
    for key in stats.option_keys():
        lines.append(f"      {key:<{width}}  {stats.predictions.get(key, 0):>3} / {stats.measured.get(key, 0):>3}")
    return lines

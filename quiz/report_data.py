"""The class report as plain data: who answered what, first try and in the end, and predictions against measurements.

quiz.report_render turns it into a terminal table and an HTML page (two Jinja2 templates).
"""

from __future__ import annotations

import json
import math
import numbers
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .answer_reader import Response, Skipped, read_folders
from .bank import Bank, Question, load_bank
from .kinds import kind_of


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
        return kind_of(self.question).right_buckets(self.question)

    def most_chosen_wrong(self) -> tuple[str, int] | None:
        """The wrong first answer most learners gave (ties: the first in option order), None if none."""
        wrong = [(key, count) for key, count in self.first_answers.items() if key not in self.right_keys() and count]
        return max(wrong, key=lambda pair: pair[1]) if wrong else None

    def label(self, key: str) -> tuple[str, str]:
        """An answer key's text and feedback, for the class to discuss."""
        return kind_of(self.question).bucket_label(self.question, key)

    def rows(self) -> list[tuple[str, str, int, bool]]:
        """(key, text, first answers, right) per bucket, in the order shown."""
        right = self.right_keys()
        return [(key, self.label(key)[0], count, key in right) for key, count in self.first_answers.items()]

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
    numeric: bool = False  # compared as numbers (else as options)
    resolved: int = 0
    predicted: int = 0
    close: int = 0
    relative_errors: list[float] = field(default_factory=list)
    measurements: list[float] = field(default_factory=list)
    predictions: dict[str, int] = field(default_factory=dict)
    measured: dict[str, int] = field(default_factory=dict)
    pairs: list[tuple[Any, float]] = field(default_factory=list)  # (prediction or None, measurement), numeric only

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
    questions: list[QuestionStats]  # the closing quiz's
    checkpoints: list[CheckpointStats]
    skipped: list[Skipped]
    lesson_questions: list[QuestionStats] = field(default_factory=list)  # in bank order, grouped by lesson

    @property
    def lessons(self) -> dict[str, list[QuestionStats]]:
        """Each lesson that asks questions, with its questions' statistics."""
        grouped: dict[str, list[QuestionStats]] = {}
        for stats in self.lesson_questions:
            grouped.setdefault(stats.question.lesson, []).append(stats)
        return grouped

    @property
    def answered_lessons(self) -> dict[str, list[QuestionStats]]:
        """The lessons whose questions someone answered: the ones the text and the page show in full."""
        return {lesson: group for lesson, group in self.lessons.items() if any(stats.answered for stats in group)}

    @property
    def unanswered_lessons(self) -> list[str]:
        """The lessons nobody answered a question of yet (not reached, or not in this class's track)."""
        return [lesson for lesson, group in self.lessons.items() if not any(stats.answered for stats in group)]

    @property
    def empty(self) -> bool:
        """True when nobody has answered anything yet."""
        return self.learners == 0

    @property
    def empty_message(self) -> str:
        """What to say when there is nothing to report."""
        return f"No responses yet in {', '.join(self.folders)}: nobody has checked an answer or revealed a checkpoint."

    def to_dict(self) -> dict[str, Any]:
        """The --json document: learners, closing questions and lesson questions in bank order, checkpoints, skips."""
        return {
            "learners": self.learners,
            "questions": [stats.to_dict() for stats in self.questions],
            "lesson_questions": [{"lesson": s.question.lesson, **s.to_dict()} for s in self.lesson_questions],
            "checkpoints": [stats.to_dict() for stats in self.checkpoints],
            "skipped": [skip.to_dict() for skip in self.skipped],
        }

    def to_json(self) -> str:
        """to_dict() as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def __repr__(self) -> str:
        counts = (
            f"{self.learners} learners, {len(self.questions)} questions, {len(self.lesson_questions)} lesson questions,"
            f" {len(self.checkpoints)} checkpoints"
        )
        return f"ClassReport({counts})"


def build_report(folders, bank: Bank | str | Path | None = None) -> ClassReport:
    """Read the folders and count; FolderError for a folder that is not there."""
    if not isinstance(bank, Bank):
        bank = load_bank(bank)
    folders = [str(folder) for folder in folders]
    responses, skipped = read_folders(folders)
    return report_of(responses, skipped, bank, folders)


def report_of(responses: list[Response], skipped: list[Skipped], bank: Bank, sources: list[str]) -> ClassReport:
    """Count responses read from anywhere (folders, the course service's database); sources name where."""
    skipped = list(skipped)
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
    lesson_questions = [_question_stats(question, latest) for question in bank.lesson_questions]
    seen = sorted({item for _learner, item_type, item in latest if item_type == "checkpoint"})
    ids = [spec.id for spec in bank.checkpoints] + [item for item in seen if bank.checkpoint(item) is None]
    checkpoints = [_checkpoint_stats(item, bank.checkpoint(item), latest) for item in ids]
    skipped.sort(key=lambda skip: (skip.file, skip.line if skip.line is not None else math.inf))
    return ClassReport(sources, bank, learners, questions, checkpoints, skipped, lesson_questions)


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
        if spec is not None and kind_of(spec).numeric:
            for name, value in (("measured", response.measured), ("answer", response.answer)):
                if (value is not None or name == "measured") and not _is_number(value):
                    return f"checkpoint '{response.item}' needs a number in field '{name}'"
        return ""
    try:
        question = bank.any_question(response.item)
    except ValueError:
        return f"unknown question '{response.item}' (not in the bank {bank.source}; pass --bank?)"
    try:
        _grade(question, response.answer)
    except (ValueError, TypeError) as error:
        return f"answer {response.answer!r} does not fit question '{question.id}': {error}"
    return ""


def _grade(question: Question, answer: Any):
    """Grade a recorded answer as the quiz did: strings are keys, not typed text."""
    kind = kind_of(question)
    result = kind.grade(question, kind.recorded(question, answer))
    if not result.graded:
        raise ValueError("no answer")
    return result


def _question_stats(question: Question, latest) -> QuestionStats:
    kind = kind_of(question)
    stats = QuestionStats(question, first_answers=kind.buckets(question))
    for (_learner, item_type, item), lines in latest.items():
        if item_type != "question" or item != question.id:
            continue
        results = [_grade(question, line.answer) for line in lines]
        stats.answered += 1
        stats.first_try_correct += results[0].correct
        stats.eventually_correct += any(result.correct for result in results)
        for key in kind.bucket_keys(results[0]):
            stats.first_answers[key] += 1
    return stats


def _checkpoint_stats(item: str, spec: Question | None, latest) -> CheckpointStats:
    lines = [lines[-1] for (_l, item_type, name), lines in latest.items() if item_type == "checkpoint" and name == item]
    if spec is not None:
        kind, unit, numeric = spec.kind, spec.unit, kind_of(spec).numeric
    else:  # defined in a lesson cell: the lines say what it is
        numeric = bool(lines) and all(_is_number(line.measured) for line in lines)
        kind, unit = "numeric" if numeric else "choice", next((line.unit for line in lines if line.unit), None)
    stats = CheckpointStats(item, spec, kind, unit, numeric=numeric)
    if spec is not None and not numeric:
        stats.predictions = {option.key: 0 for option in spec.options}
        stats.measured = {option.key: 0 for option in spec.options}
    for line in lines:
        stats.resolved += 1
        stats.predicted += line.answer is not None
        stats.close += line.correct is True
        if numeric:
            stats.measurements.append(float(line.measured))
            stats.pairs.append((line.answer, float(line.measured)))
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

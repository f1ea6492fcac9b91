"""The bank's data model: options, tolerances, questions (and checkpoints) and the bank; numbers as people write them."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

# Ids and keys end up in exports, CSS classes, file lines and commands: keep them plain.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]*$")
# Where the learner's value lands against the target: the keys of a numeric item's feedback.
DIRECTIONS = ("low", "close", "high")
# A checkpoint's prediction is "close" within this when its definition names no tolerance.
DEFAULT_CHECKPOINT_TOLERANCE = "25%"


class BankError(ValueError):
    """The question bank is malformed; the message names the file, question and field."""


@dataclass(frozen=True)
class Option:
    """One answer a learner can choose."""

    key: str
    text: str
    feedback: str


@dataclass(frozen=True)
class Tolerance:
    """How far a number may be from its target and still count: absolute, or relative to the target."""

    amount: float
    relative: bool

    def allows(self, value: float, target: float) -> bool:
        """True when value is within the tolerance of target."""
        limit = self.amount * abs(target) if self.relative else self.amount
        # A hair of slack so that 90 is within 10% of 100 despite binary floats.
        return abs(value - target) <= limit * (1 + 1e-9)

    def direction(self, value: float, target: float) -> str:
        """'low', 'close' or 'high': where value lands against target."""
        if self.allows(value, target):
            return "close"
        return "low" if value < target else "high"

    def describe(self, unit: str | None) -> str:
        """'25%' or '10 ms', for feedback text."""
        if self.relative:
            return f"{format_number(self.amount * 100)}%"
        return f"{format_number(self.amount)}{f' {unit}' if unit else ''}"


@dataclass(frozen=True)
class NumericFeedback:
    """What to say when a number is too low, close enough, or too high."""

    low: str
    close: str
    high: str

    def __getitem__(self, direction: str) -> str:
        return getattr(self, direction)


@dataclass(frozen=True)
class Question:
    """One question (or checkpoint): what is asked, how it is answered, the right answer and why.

    `kind` names the class in quiz.kinds that grades it, draws its input and counts it in the report.
    `lesson` is the slug of the lesson that asks it (`quiz.ask`), None for the closing quiz's questions.
    """

    id: str
    prompt: str
    options: tuple[Option, ...]
    # 'single': one option key; 'multiple': a tuple of keys; 'numeric': a number (no options).
    # None for a checkpoint: the learner's measurement is its answer, given at reveal time.
    answer: Any
    explanation: str
    code: str | None = None
    kind: str = "single"
    unit: str | None = None
    tolerance: Tolerance | None = None
    feedback: NumericFeedback | None = None
    lesson: str | None = None

    def option(self, key: str) -> Option:
        """The option with this key; ValueError naming the valid keys otherwise."""
        for option in self.options:
            if option.key == key:
                return option
        keys = ", ".join(option.key for option in self.options)
        if not self.options:
            raise ValueError(f"question '{self.id}' is {self.kind} and has no options")
        raise ValueError(f"question '{self.id}' has no option {key!r}; choose one of: {keys}")


@dataclass(frozen=True)
class Bank:
    """A checked question bank: the closing quiz's questions, the lessons' questions and their checkpoints."""

    title: str
    questions: tuple[Question, ...]  # the closing quiz, in its order
    checkpoints: tuple[Question, ...] = ()
    lesson_questions: tuple[Question, ...] = ()  # asked at the end of lessons, in bank order
    source: str = field(default="<bank>", compare=False)

    def question(self, ref: str | int) -> Question:
        """The closing quiz's question with this id, or with this 1-based number."""
        if isinstance(ref, int) and not isinstance(ref, bool):
            if 1 <= ref <= len(self.questions):
                return self.questions[ref - 1]
            raise ValueError(f"there is no question {ref}; questions are numbered 1 to {len(self.questions)}")
        for question in self.questions:
            if question.id == ref:
                return question
        ids = ", ".join(question.id for question in self.questions)
        raise ValueError(f"there is no question {ref!r}; the questions are: {ids}")

    def lesson_question(self, question_id: str) -> Question:
        """A lesson's question by id; ValueError naming the lesson questions otherwise."""
        for question in self.lesson_questions:
            if question.id == question_id:
                return question
        ids = ", ".join(question.id for question in self.lesson_questions)
        raise ValueError(f"there is no lesson question {question_id!r}; the lesson questions are: {ids}")

    def any_question(self, question_id: str) -> Question:
        """A question by id, from the closing quiz or a lesson; ValueError otherwise."""
        found = next((q for q in (*self.questions, *self.lesson_questions) if q.id == question_id), None)
        if found is None:
            raise ValueError(f"there is no question {question_id!r} in {self.source}")
        return found

    def checkpoint(self, checkpoint_id: str) -> Question | None:
        """The checkpoint defined with this id, None when the bank has none."""
        return next((spec for spec in self.checkpoints if spec.id == checkpoint_id), None)

    def lessons(self) -> list[str]:
        """The lessons that ask questions, in bank order."""
        return list(dict.fromkeys(question.lesson for question in self.lesson_questions))


def format_percent(fraction: float) -> str:
    """A fraction as whole percent: 0.403 -> '40%', 0.002 -> 'under 1%'."""
    whole = round(abs(fraction) * 100)
    return f"{whole:,}%" if whole or not fraction else "under 1%"


def format_number(value: float) -> str:
    """A number as people write it: 502.3, 2.7, 0.35, 1,250 (four significant digits at most)."""
    if abs(value) >= 1000:
        return f"{round(value):,}"
    text = f"{value:.4g}"
    return text if "e" not in text else f"{value:.6f}".rstrip("0").rstrip(".")


def with_unit(value: float, unit: str | None) -> str:
    """'502 ms', or '502' without a unit."""
    return f"{format_number(value)} {unit}" if unit else format_number(value)


def parse_number(text: str, unit: str | None = None) -> float | None:
    """What a learner typed, as a number (None when empty); a trailing unit is allowed."""
    cleaned = text.strip()
    if unit and cleaned.casefold().endswith(unit.casefold()):
        cleaned = cleaned[: -len(unit)].strip()
    if not cleaned:
        return None if not text.strip() else _not_a_number(text)
    try:
        value = float(cleaned)
    except ValueError:
        return _not_a_number(text)
    if not math.isfinite(value):
        return _not_a_number(text)
    return value


def _not_a_number(text: str):
    raise ValueError(f"'{text.strip()}' is not a number; type digits, like 350 or 0.5")

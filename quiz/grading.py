"""The grading model: answers in, results, feedback and score out. No widgets here."""

from __future__ import annotations

import enum
import math
import numbers
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .bank import Bank, Option, Question, format_number


class Status(str, enum.Enum):
    """How a checked question stands."""

    CORRECT = "correct"
    INCORRECT = "incorrect"
    UNANSWERED = "unanswered"


HEADLINES = {
    Status.CORRECT: "Correct!",
    Status.INCORRECT: "Not yet.",
    Status.UNANSWERED: "Choose an answer first.",
}
# What "nothing given" means depends on how the question is answered.
UNANSWERED_HEADLINES = {
    "single": "Choose an answer first.",
    "multiple": "Choose at least one answer first.",
    "numeric": "Type a number first.",
}


@dataclass(frozen=True)
class Result:
    """The outcome of checking one question."""

    question: Question
    choice: Option | None  # 'single': the option chosen
    status: Status
    # As recorded: an option key, a tuple of keys in option order, or a float; None if nothing.
    answer: Any = None
    notes: tuple[str, ...] = ()  # the feedback, one paragraph each
    direction: str | None = None  # 'numeric': 'low', 'close' or 'high'

    @property
    def correct(self) -> bool:
        """True only for the correct answer."""
        return self.status is Status.CORRECT

    @property
    def graded(self) -> bool:
        """False when nothing was chosen: that is not a wrong answer."""
        return self.status is not Status.UNANSWERED

    @property
    def headline(self) -> str:
        """'Correct!', 'Not yet.' or what to do first ('Choose an answer first.', ...)."""
        if self.status is Status.UNANSWERED:
            return UNANSWERED_HEADLINES[self.question.kind]
        return HEADLINES[self.status]

    @property
    def feedback(self) -> str:
        """Why the answer is right or wrong ('' when nothing was chosen)."""
        return " ".join(self.notes)

    @property
    def explanation(self) -> str:
        """The question's explanation, revealed only once it is answered correctly."""
        # Showing it after a wrong answer would give the answer away.
        return self.question.explanation if self.correct else ""


def unanswered(question: Question, note: str = "") -> Result:
    """The result of a Check with nothing (usable) given; note says what was wrong with the input."""
    return Result(question, None, Status.UNANSWERED, notes=(note,) if note else ())


def grade(question: Question, answer: Any) -> Result:
    """Grade one answer: an option key, an iterable of keys, or a number, as the kind asks (None: nothing)."""
    if question.answer is None:
        raise ValueError(f"'{question.id}' is a checkpoint: its answer is the measurement, given to reveal()")
    if answer is None:
        return unanswered(question)
    if question.kind == "numeric":
        return _grade_numeric(question, as_number(answer, question.unit))
    if question.kind == "multiple":
        return _grade_multiple(question, option_keys(question, answer))
    option = question.option(answer)
    status = Status.CORRECT if option.key == question.answer else Status.INCORRECT
    return Result(question, option, status, option.key, (option.feedback,))


def _grade_multiple(question: Question, keys: tuple[str, ...]) -> Result:
    """All that apply: right only when exactly the right options are chosen."""
    if not keys:
        return unanswered(question)
    status = Status.CORRECT if set(keys) == set(question.answer) else Status.INCORRECT
    notes = [f"\u201c{question.option(key).text}\u201d {question.option(key).feedback}" for key in keys]
    missing = len(set(question.answer) - set(keys))
    if missing:
        # Say how many, not which: naming them would give the answer away.
        count = "One right answer is" if missing == 1 else f"{missing} right answers are"
        notes.append(f"{count} not chosen yet.")
    return Result(question, None, status, keys, tuple(notes))


def _grade_numeric(question: Question, value: float) -> Result:
    """A number: right within the tolerance; otherwise say whether it is too low or too high."""
    direction = question.tolerance.direction(value, question.answer)
    status = Status.CORRECT if direction == "close" else Status.INCORRECT
    notes = [] if direction == "close" else [f"{with_unit(value, question.unit)} is too {direction}."]
    notes.append(question.feedback[direction])
    return Result(question, None, status, value, tuple(notes), direction)


def option_keys(question: Question, answer: Any) -> tuple[str, ...]:
    """An iterable of option keys, checked, without repeats, in option order."""
    if isinstance(answer, str) or not isinstance(answer, Iterable):
        raise ValueError(f"question '{question.id}' takes a list of option keys, not {answer!r}")
    chosen = {question.option(key).key for key in answer}  # ValueError naming the valid keys
    return tuple(option.key for option in question.options if option.key in chosen)


def as_number(value: Any, unit: str | None = None) -> float:
    """A finite float from a number, or from text like '350' or '350 ms'; ValueError says why not."""
    if isinstance(value, str):
        parsed = parse_number(value, unit)
        if parsed is None:
            raise ValueError("nothing was typed")
        return parsed
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


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


def with_unit(value: float, unit: str | None) -> str:
    """'502 ms', or '502' without a unit."""
    return f"{format_number(value)} {unit}" if unit else format_number(value)


@dataclass(frozen=True)
class Report:
    """Every question graded at once, with the score."""

    results: tuple[Result, ...]

    @property
    def score(self) -> int:
        """How many questions are answered correctly."""
        return sum(result.correct for result in self.results)

    @property
    def total(self) -> int:
        """How many questions there are."""
        return len(self.results)


def grade_all(bank: Bank, answers: Mapping[str, Any]) -> Report:
    """Grade a whole set of answers (question id -> answer); missing ids are unanswered."""
    unknown = set(answers) - {question.id for question in bank.questions}
    if unknown:
        raise ValueError(f"no such question: {', '.join(sorted(unknown))}")
    return Report(tuple(grade(question, answers.get(question.id)) for question in bank.questions))


def option_order(question: Question, seed: int | None) -> tuple[Option, ...]:
    """The options as shown: bank order, or shuffled reproducibly by seed."""
    options = list(question.options)
    if seed is not None:
        # Seeding per question keeps each question's order stable when others change.
        random.Random(f"{seed}:{question.id}").shuffle(options)
    return tuple(options)


class Grader:
    """One learner's attempt at a quiz: checks, results, attempts and score."""

    def __init__(self, bank: Bank, *, shuffle: bool = False, seed: int | None = None):
        """Shuffle options if asked (a seed implies it); a shuffle without seed picks one."""
        self.bank = bank
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be a whole number, not {seed!r}")
        if shuffle and seed is None:
            seed = random.SystemRandom().randrange(1_000_000)
        self.seed = seed
        self._order = {q.id: option_order(q, seed) for q in bank.questions}
        self._results: dict[str, Result] = {}
        self._attempts: dict[str, int] = {q.id: 0 for q in bank.questions}

    @property
    def questions(self) -> tuple[Question, ...]:
        """The questions, in quiz order."""
        return self.bank.questions

    def question(self, ref: str | int) -> Question:
        """A question by id or 1-based number."""
        return self.bank.question(ref)

    def options(self, ref: str | int) -> tuple[Option, ...]:
        """A question's options in the order shown to this learner."""
        return self._order[self.question(ref).id]

    def check(self, ref: str | int, answer: Any) -> Result:
        """Grade the current answer; an unanswered check is not recorded as an attempt."""
        question = self.question(ref)
        result = grade(question, answer)
        if result.graded:
            self._results[question.id] = result
            self._attempts[question.id] += 1
        else:
            self._results.pop(question.id, None)
        return result

    def clear(self, ref: str | int) -> None:
        """Forget a question's result, e.g. because the learner chose another option."""
        self._results.pop(self.question(ref).id, None)

    def reset(self) -> None:
        """Start over: no results, no attempts."""
        self._results.clear()
        self._attempts = dict.fromkeys(self._attempts, 0)

    def result(self, ref: str | int) -> Result | None:
        """The standing result of a question, None until it is checked."""
        return self._results.get(self.question(ref).id)

    @property
    def results(self) -> dict[str, Result]:
        """Question id -> standing result, for the checked questions, in quiz order."""
        return {q.id: self._results[q.id] for q in self.questions if q.id in self._results}

    @property
    def responses(self) -> dict[str, Any]:
        """Question id -> the checked answer (None until checked), in quiz order."""
        return {q.id: (r.answer if (r := self._results.get(q.id)) else None) for q in self.questions}

    @property
    def attempts(self) -> dict[str, int]:
        """Question id -> how many times an answer to it was checked."""
        return dict(self._attempts)

    @property
    def score(self) -> int:
        """How many questions are answered correctly so far."""
        return sum(result.correct for result in self._results.values())

    @property
    def total(self) -> int:
        """How many questions the quiz has."""
        return len(self.questions)

    @property
    def answered(self) -> int:
        """How many questions have a checked answer."""
        return len(self._results)

    @property
    def complete(self) -> bool:
        """True once every question has a checked answer: the score is final."""
        return self.answered == self.total

    def record(self) -> dict:
        """A JSON-ready summary of this attempt (see quiz.json_export)."""
        questions = []
        for question in self.questions:
            result = self._results.get(question.id)
            questions.append(
                {
                    "id": question.id,
                    "choice": json_answer(result.answer) if result else None,
                    "status": result.status.value if result else Status.UNANSWERED.value,
                    "attempts": self._attempts[question.id],
                }
            )
        return {
            "quiz": self.bank.title,
            "score": self.score,
            "total": self.total,
            "complete": self.complete,
            "seed": self.seed,
            "questions": questions,
        }


def json_answer(answer: Any) -> Any:
    """An answer as JSON has it: tuples of keys become lists."""
    return list(answer) if isinstance(answer, tuple) else answer

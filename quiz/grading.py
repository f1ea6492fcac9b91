"""The grading model: answers in, results, feedback and score out. No widgets here."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .kinds import kind_of
from .kinds.multiple import option_keys
from .kinds.numeric import as_number
from .model import Bank, Option, Question, parse_number, with_unit
from .outcomes import Result, Status

# Bump when the exported record's shape changes, so collected files can be told apart.
EXPORT_FORMAT = 1

__all__ = [
    "EXPORT_FORMAT", "Grader", "Report", "Result", "Status", "as_number", "grade", "grade_all", "json_answer",
    "option_keys", "option_order", "parse_number", "unanswered", "with_unit",
]  # fmt: skip


def unanswered(question: Question, note: str = "") -> Result:
    """The result of a Check with nothing (usable) given; note says what was wrong with the input."""
    return kind_of(question).unanswered(question, note)


def grade(question: Question, answer: Any) -> Result:
    """Grade one answer: an option key, an iterable of keys, or a number, as the kind asks (None: nothing)."""
    if question.answer is None:
        raise ValueError(f"'{question.id}' is a checkpoint: its answer is the measurement, given to reveal()")
    if answer is None:
        return unanswered(question)
    return kind_of(question).grade(question, answer)


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
        """A JSON-ready summary of this attempt, as `to_json` exports it."""
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

    def to_json(self) -> str:
        """The attempt as a JSON document for instructors and graders (stable key order, UTF-8 kept readable)."""
        return json.dumps({"format": EXPORT_FORMAT, **self.record()}, indent=2, ensure_ascii=False) + "\n"

    def save(self, path: str | Path) -> Path:
        """Write the JSON document to path and return the path."""
        path = Path(path)
        path.write_text(self.to_json(), encoding="utf-8")
        return path


def json_answer(answer: Any) -> Any:
    """An answer as JSON has it: tuples of keys become lists."""
    return list(answer) if isinstance(answer, tuple) else answer

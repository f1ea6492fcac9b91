"""The grading model: answers in, results, feedback and score out. No widgets here."""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass

from .bank import Bank, Option, Question


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


@dataclass(frozen=True)
class Result:
    """The outcome of checking one question."""

    question: Question
    choice: Option | None
    status: Status

    @property
    def correct(self) -> bool:
        """True only for the correct option."""
        return self.status is Status.CORRECT

    @property
    def graded(self) -> bool:
        """False when nothing was chosen: that is not a wrong answer."""
        return self.status is not Status.UNANSWERED

    @property
    def headline(self) -> str:
        """'Correct!', 'Not yet.' or 'Choose an answer first.'"""
        return HEADLINES[self.status]

    @property
    def feedback(self) -> str:
        """Why the chosen option is right or wrong ('' when nothing was chosen)."""
        return self.choice.feedback if self.choice else ""

    @property
    def explanation(self) -> str:
        """The question's explanation, revealed only once it is answered correctly."""
        # Showing it after a wrong answer would give the answer away.
        return self.question.explanation if self.correct else ""


def grade(question: Question, choice: str | None) -> Result:
    """Grade one answer, given as an option key (None: nothing chosen)."""
    if choice is None:
        return Result(question, None, Status.UNANSWERED)
    option = question.option(choice)
    status = Status.CORRECT if option.key == question.answer else Status.INCORRECT
    return Result(question, option, status)


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


def grade_all(bank: Bank, answers: Mapping[str, str | None]) -> Report:
    """Grade a whole set of answers (question id -> option key); missing ids are unanswered."""
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

    def check(self, ref: str | int, choice: str | None) -> Result:
        """Grade the current choice; an unanswered check is not recorded as an attempt."""
        question = self.question(ref)
        result = grade(question, choice)
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
    def responses(self) -> dict[str, str | None]:
        """Question id -> the checked option key (None until checked), in quiz order."""
        return {q.id: (r.choice.key if (r := self._results.get(q.id)) else None) for q in self.questions}

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
                    "choice": result.choice.key if result else None,
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

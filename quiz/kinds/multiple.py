"""All that apply: a checkbox per option, letters at the terminal, a bar per option in the report."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import field_validator, model_validator

from ..model import Option, Question
from ..outcomes import Result, Status
from ..schema import FieldError
from .base import letters
from .single import ChoiceEntry, SingleChoice, parse_choice


def option_keys(question: Question, answer: Any) -> tuple[str, ...]:
    """An iterable of option keys, checked, without repeats, in option order."""
    if isinstance(answer, str) or not isinstance(answer, Iterable):
        raise ValueError(f"question '{question.id}' takes a list of option keys, not {answer!r}")
    chosen = {question.option(key).key for key in answer}  # ValueError naming the valid keys
    return tuple(option.key for option in question.options if option.key in chosen)


class MultipleEntry(ChoiceEntry):
    """Several right options: the answer is a non-empty list of distinct option keys."""

    answer: list[str] | None = None

    @field_validator("answer", mode="before")
    @classmethod
    def _a_list(cls, value: Any) -> Any:
        if value is not None and (not isinstance(value, list) or not value):
            raise ValueError(
                f"must be a non-empty list of option keys, not {'an empty list' if value == [] else repr(value)}"
            )
        return value

    @model_validator(mode="after")
    def _answers_are_options(self) -> MultipleEntry:
        if self.answer is None:
            return self
        chosen = []
        for value in self.answer:
            if value not in self.option_keys():
                raise FieldError("answer", f"{value!r} is not one of the option keys ({', '.join(self.option_keys())})")
            if value in chosen:
                raise FieldError("answer", f"names '{value}' twice")
            chosen.append(value)
        return self


class MultipleChoice(SingleChoice):
    """All that apply: right only when exactly the right options are chosen."""

    name = "multiple"
    entry = MultipleEntry
    first = "Choose at least one answer first."
    check_hint = "Tick every option that applies, then press Check."
    retry_hint = "Change your choice and press Check again."
    # A multiple-choice prediction is never empty-handed: no box ticked is the prediction "none of them".
    commit_hint = "Tick the options you expect, then press Commit."

    def _answer(self, entry: MultipleEntry) -> Any:
        return tuple(key for key in entry.option_keys() if key in entry.answer)

    def grade(self, question: Question, answer: Any) -> Result:
        keys = option_keys(question, answer)
        if not keys:
            return self.unanswered(question)
        status = Status.CORRECT if set(keys) == set(question.answer) else Status.INCORRECT
        notes = [f"\u201c{question.option(key).text}\u201d {question.option(key).feedback}" for key in keys]
        missing = len(set(question.answer) - set(keys))
        if missing:
            # Say how many, not which: naming them would give the answer away.
            count = "One right answer is" if missing == 1 else f"{missing} right answers are"
            notes.append(f"{count} not chosen yet.")
        return Result(question, None, status, keys, tuple(notes), first=self.first)

    def recorded(self, question: Question, answer: Any) -> Any:
        return option_keys(question, answer)

    def check_prediction(self, spec: Question, value: Any) -> Any:
        return option_keys(spec, value)  # an empty tuple is a prediction too: "none of them"

    def _keys(self, value: Any) -> set[str]:
        return set(value)

    def how_to_answer(self, question: Question) -> str:
        return "Choose every option that applies."

    def how_to_predict(self, spec: Question) -> str:
        return "Tick every option you expect (or none), then press Commit."

    def make_input(self, question: Question, options: tuple[Option, ...]):
        from ..inputs import MultiInput  # widgets load only where they are drawn, not for `python -m quiz`

        return MultiInput(options)

    def check_choice(self, question: Question, choice: Any) -> None:
        for key in choice:
            question.option(key)

    def prompts(self, question: Question, options: tuple[Option, ...]) -> tuple[str, str, str]:
        span = letters(len(options))
        return (f"Your answers ({span}, e.g. A C): ", f"Try other answers ({span}), or press Enter to move on: ",
                f"the letters of every answer that applies ({span}), like A C, and press Enter.")  # fmt: skip

    def read_typed(self, question: Question, options: tuple[Option, ...], typed: str, how: str) -> Any:
        parts = typed.replace(",", " ").split()
        picked = [parse_choice(part, len(options)) for part in parts]
        if not parts or any(index is None for index in picked):
            raise ValueError(f"{typed!r} is not a list of option letters: type {how}")
        return [options[index].key for index in sorted(set(picked))]

    def bucket_keys(self, result: Result) -> tuple[str, ...]:
        return tuple(result.answer)

    def right_buckets(self, question: Question) -> set[str]:
        return set(question.answer)

"""One answer of several: radio buttons, a letter at the terminal, a bar per option in the report."""

from __future__ import annotations

import string
from typing import Any

from pydantic import field_validator, model_validator

from ..model import Option, Question
from ..outcomes import Outcome, Result, Status, Verdict
from ..schema import FieldError, ItemEntry, Name, OptionEntry
from .base import Kind, letters


def option_texts(spec: Question, keys: set[str]) -> str:
    """The options' texts in option order, or 'none of them'."""
    texts = [option.text for option in spec.options if option.key in keys]
    return ", ".join(texts) if texts else "none of them"


def parse_choice(text: str, count: int) -> int | None:
    """The 0-based option a typed letter (or 1-based number) picks, None if it picks none."""
    text = text.strip().rstrip(").").upper()
    if len(text) == 1 and text in string.ascii_uppercase[:count]:
        return string.ascii_uppercase.index(text)
    if text.isdigit() and 1 <= int(text) <= count:
        return int(text) - 1
    return None


class ChoiceEntry(ItemEntry):
    """An item answered by choosing among options: at least two, keys and texts all different."""

    options: list[OptionEntry]

    @field_validator("options")
    @classmethod
    def _at_least_two_different(cls, options: list[OptionEntry]) -> list[OptionEntry]:
        if len(options) < 2:
            raise ValueError("must be a list of at least 2 options")
        for number, option in enumerate(options, start=1):
            earlier = options[: number - 1]
            if any(option.key == other.key for other in earlier):
                raise FieldError("key", f"'{option.key}' is the key of an earlier option", number)
            if any(option.text == other.text for other in earlier):
                raise FieldError("text", "is the same as an earlier option's", number)
        return options

    @model_validator(mode="after")
    def _feedback_on_every_option(self, info) -> ChoiceEntry:
        """A question's options all say why they are right or wrong (a lesson cell's inline checkpoint may not)."""
        if (info.context or {}).get("require_feedback", True):
            for number, option in enumerate(self.options, start=1):
                if option.feedback is None:
                    raise FieldError("feedback", "is missing", number)
        return self

    def option_keys(self) -> list[str]:
        """The option keys, in order."""
        return [option.key for option in self.options]


class SingleEntry(ChoiceEntry):
    """One right option."""

    answer: Name | None = None

    @model_validator(mode="after")
    def _answer_is_an_option(self) -> SingleEntry:
        if self.answer is not None and self.answer not in self.option_keys():
            raise FieldError(
                "answer", f"'{self.answer}' is not one of the option keys ({', '.join(self.option_keys())})"
            )
        return self


class SingleChoice(Kind):
    """One answer of several."""

    name = "single"
    entry = SingleEntry
    first = "Choose an answer first."
    check_hint = "Pick one of the options above, then press Check."
    retry_hint = "Pick another answer and press Check again."
    commit_hint = "Choose an option first, then press Commit."

    def build(self, entry: ChoiceEntry, checkpoint: bool) -> Question:
        options = tuple(Option(o.key, o.text, o.feedback or "") for o in entry.options)
        answer = None if checkpoint else self._answer(entry)
        return Question(entry.id, entry.prompt, options, answer, entry.explanation or "", entry.code, self.name,
                        lesson=entry.lesson)  # fmt: skip

    def _answer(self, entry: SingleEntry) -> Any:
        return entry.answer

    def grade(self, question: Question, answer: Any) -> Result:
        option = question.option(answer)
        status = Status.CORRECT if option.key == question.answer else Status.INCORRECT
        return Result(question, option, status, option.key, (option.feedback,), first=self.first)

    def recorded(self, question: Question, answer: Any) -> Any:
        if not isinstance(answer, str):
            raise ValueError("not an option key")
        return question.option(answer).key

    def check_prediction(self, spec: Question, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"checkpoint '{spec.id}' takes one option key, not {value!r}")
        return spec.option(value).key

    def _keys(self, value: Any) -> set[str]:
        return {value}

    def resolve(self, spec: Question, prediction: Any, measured: Any) -> Outcome:
        measured_keys = self._keys(measured)
        if prediction is None:
            verdict, explain = Verdict.NONE, measured_keys
            notes = [f"Measured: {option_texts(spec, measured_keys)}."]
        else:
            predicted_keys = self._keys(prediction)
            verdict = Verdict.MATCH if predicted_keys == measured_keys else Verdict.DIFFERENT
            # Where prediction and measurement disagree is where the explanation is needed.
            explain = measured_keys if verdict is Verdict.MATCH else predicted_keys ^ measured_keys
            predicted, found = option_texts(spec, predicted_keys), option_texts(spec, measured_keys)
            notes = [f"You predicted: {predicted}. Measured: {found}."]
        notes += [f"{o.text}: {o.feedback}" for o in spec.options if o.key in explain and o.feedback]
        return Outcome(spec, prediction, measured, verdict, tuple(notes))

    def describe(self, spec: Question, value: Any) -> str:
        return option_texts(spec, self._keys(value))

    def how_to_predict(self, spec: Question) -> str:
        return "Choose what you expect, then press Commit."

    def how_to_answer(self, question: Question) -> str:
        return "Choose one."

    def make_input(self, question: Question, options: tuple[Option, ...]):
        from ..inputs import ChoiceInput  # widgets load only where they are drawn, not for `python -m quiz`

        return ChoiceInput(options)

    def check_choice(self, question: Question, choice: Any) -> None:
        question.option(choice)

    def prompts(self, question: Question, options: tuple[Option, ...]) -> tuple[str, str, str]:
        span = letters(len(options))
        return (f"Your answer ({span}): ", f"Try another answer ({span}), or press Enter to move on: ",
                f"one of the letters {span} and press Enter.")  # fmt: skip

    def read_typed(self, question: Question, options: tuple[Option, ...], typed: str, how: str) -> Any:
        picked = parse_choice(typed, len(options))
        if picked is None:
            raise ValueError(f"{typed!r} is not one of the options: type {how}")
        return options[picked].key

    def buckets(self, question: Question) -> dict[str, int]:
        return {option.key: 0 for option in question.options}

    def bucket_keys(self, result: Result) -> tuple[str, ...]:
        return (result.answer,)

    def right_buckets(self, question: Question) -> set[str]:
        return {question.answer}

    def bucket_label(self, question: Question, key: str) -> tuple[str, str]:
        option = question.option(key)
        return option.text, option.feedback

"""A number, within a tolerance: a text box with its unit, too low / close / too high in feedback and report."""

from __future__ import annotations

import math
import numbers
from typing import Any

from pydantic import model_validator

from ..model import (
    DIRECTIONS,
    NumericFeedback,
    Option,
    Question,
    format_number,
    format_percent,
    parse_number,
    with_unit,
)
from ..outcomes import Outcome, Result, Status, Verdict
from ..schema import Entry, FieldError, ItemEntry, Number, Text, ToleranceField, default_tolerance
from .base import Kind


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


class FeedbackEntry(Entry):
    """What to say when the number is too low, close enough, or too high."""

    low: Text
    close: Text
    high: Text


class NumericEntry(ItemEntry):
    """A number with its unit; a question also names the right number, the tolerance and the feedback."""

    unit: Text | None = None
    tolerance: ToleranceField | None = None
    feedback: FeedbackEntry | None = None
    answer: Number | None = None

    @model_validator(mode="after")
    def _what_a_number_needs(self, info) -> NumericEntry:
        context = info.context or {}
        required = [] if context.get("checkpoint") else ["tolerance", "feedback"]
        if context.get("checkpoint") and context.get("require_feedback", True):
            required.append("feedback")
        for name in required:
            if getattr(self, name) is None:
                raise FieldError(name, "is missing")
        return self


class Numeric(Kind):
    """A number: right within the tolerance; otherwise say whether it is too low or too high."""

    name = "numeric"
    entry = NumericEntry
    first = "Type a number first."
    check_hint = "Type a number in the box, then press Check."
    retry_hint = "Type another number and press Check again."
    commit_hint = "Type a number first, then press Commit."
    numeric = True

    def build(self, entry: NumericEntry, checkpoint: bool) -> Question:
        feedback = NumericFeedback(*(getattr(entry.feedback, d) for d in DIRECTIONS)) if entry.feedback else None
        tolerance = entry.tolerance or default_tolerance(checkpoint)
        answer = None if checkpoint else entry.answer
        return Question(entry.id, entry.prompt, (), answer, entry.explanation or "", entry.code, self.name,
                        entry.unit, tolerance, feedback, entry.lesson)  # fmt: skip

    def grade(self, question: Question, answer: Any) -> Result:
        value = as_number(answer, question.unit)
        direction = question.tolerance.direction(value, question.answer)
        status = Status.CORRECT if direction == "close" else Status.INCORRECT
        notes = [] if direction == "close" else [f"{with_unit(value, question.unit)} is too {direction}."]
        notes.append(question.feedback[direction])
        return Result(question, None, status, value, tuple(notes), direction, first=self.first)

    def recorded(self, question: Question, answer: Any) -> Any:
        if isinstance(answer, bool) or not isinstance(answer, numbers.Real) or not math.isfinite(answer):
            raise ValueError("not a number")
        return float(answer)

    def check_prediction(self, spec: Question, value: Any) -> Any:
        return as_number(value, spec.unit)

    def check_measurement(self, spec: Question, measured: Any) -> Any:
        if isinstance(measured, bool) or not isinstance(measured, numbers.Real):
            raise TypeError(f"checkpoint '{spec.id}' is revealed with a number, not {measured!r}")
        return as_number(measured)

    def resolve(self, spec: Question, prediction: Any, measured: Any) -> Outcome:
        unit = spec.unit
        if prediction is None:
            return Outcome(spec, None, measured, Verdict.NONE, (f"Measured: {with_unit(measured, unit)}.",))
        direction = spec.tolerance.direction(prediction, measured)
        verdict = Verdict(direction)
        comparison = f"You predicted {with_unit(prediction, unit)}; the measurement is {with_unit(measured, unit)}"
        relative = (prediction - measured) / abs(measured) if measured else None
        if verdict is Verdict.CLOSE:
            comparison += f", within {spec.tolerance.describe(unit)}."
        elif relative is None:
            side = "lower" if prediction < measured else "higher"
            comparison += f": {with_unit(abs(prediction - measured), unit)} {side}."
        elif prediction >= 3 * measured > 0:
            # "16,567% higher" means little; "167 times the measurement" reads at once.
            ratio = prediction / measured
            comparison += f": {format_number(round(ratio, 1 if ratio < 10 else None))} times the measurement."
        else:
            comparison += f": {format_percent(relative)} {'lower' if relative < 0 else 'higher'}."
        notes = [comparison] + ([spec.feedback[direction]] if spec.feedback is not None else [])
        return Outcome(spec, prediction, measured, verdict, tuple(notes), relative)

    def describe(self, spec: Question, value: Any) -> str:
        return with_unit(value, spec.unit)

    def how_to_predict(self, spec: Question) -> str:
        return "Type your prediction" + (f" in {spec.unit}" if spec.unit else "") + ", then press Commit."

    def how_to_answer(self, question: Question) -> str:
        return "Answer with a number" + (f", in {question.unit}." if question.unit else ".")

    def make_input(self, question: Question, options: tuple[Option, ...]):
        from ..inputs import NumberInput  # widgets load only where they are drawn, not for `python -m quiz`

        return NumberInput(question.unit)

    def answer_of(self, source) -> Any:
        return source.number()

    def prompts(self, question: Question, options: tuple[Option, ...]) -> tuple[str, str, str]:
        unit = question.unit or "a number"
        return (f"Your answer ({unit}): ", f"Try another number ({unit}), or press Enter to move on: ",
                "a number" + (f" of {question.unit}" if question.unit else "") + " and press Enter.")  # fmt: skip

    def read_typed(self, question: Question, options: tuple[Option, ...], typed: str, how: str) -> Any:
        try:
            return parse_number(typed, question.unit)
        except ValueError as error:
            raise ValueError(f"{error}; type {how}") from error

    def buckets(self, question: Question) -> dict[str, int]:
        return dict.fromkeys(DIRECTIONS, 0)

    def bucket_keys(self, result: Result) -> tuple[str, ...]:
        return (result.direction,)

    def right_buckets(self, question: Question) -> set[str]:
        return {"close"}

    def bucket_label(self, question: Question, key: str) -> tuple[str, str]:
        target = with_unit(question.answer, question.unit)
        words = {"low": f"too low (under {target})", "close": f"close to {target}", "high": f"too high (over {target})"}
        return words[key], question.feedback[key]

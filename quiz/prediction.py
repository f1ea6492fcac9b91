"""Compare a committed prediction with the measurement: the pure model behind checkpoints."""

from __future__ import annotations

import enum
import numbers
from dataclasses import dataclass
from typing import Any

from .bank import Question, format_number, format_percent
from .grading import as_number, option_keys, with_unit


class Verdict(str, enum.Enum):
    """How a prediction compares with what was measured."""

    NONE = "none"  # nothing was committed before the measurement
    CLOSE = "close"  # a number within the checkpoint's tolerance
    LOW = "low"
    HIGH = "high"
    MATCH = "match"  # the options predicted are the options measured
    DIFFERENT = "different"


HEADLINES = {
    Verdict.NONE: "No prediction committed.",
    Verdict.CLOSE: "Close!",
    Verdict.LOW: "Lower than measured.",
    Verdict.HIGH: "Higher than measured.",
    Verdict.MATCH: "As predicted!",
    Verdict.DIFFERENT: "Not what was measured.",
}


@dataclass(frozen=True)
class Outcome:
    """A checkpoint resolved: the prediction, the measurement, the verdict and the feedback on the gap."""

    spec: Question
    prediction: Any
    measured: Any
    verdict: Verdict
    notes: tuple[str, ...]
    relative_error: float | None = None

    @property
    def correct(self) -> bool | None:
        """True when the prediction was close or matched, None when there was none."""
        if self.verdict is Verdict.NONE:
            return None
        return self.verdict in (Verdict.CLOSE, Verdict.MATCH)

    @property
    def headline(self) -> str:
        """'Close!', 'Lower than measured.', 'No prediction committed.', ..."""
        return HEADLINES[self.verdict]

    def lines(self) -> list[str]:
        """The feedback as plain paragraphs: headline and comparison, why, and the explanation."""
        first, *rest = self.notes
        lines = [f"{self.headline} {first}", *rest]
        if self.spec.explanation:
            lines.append(self.spec.explanation)
        return lines


def check_prediction(spec: Question, value: Any) -> Any:
    """A prediction as recorded (float, option key or tuple of keys); ValueError says what is wrong."""
    if spec.kind == "numeric":
        return as_number(value, spec.unit)
    if spec.kind == "multiple":
        return option_keys(spec, value)  # an empty tuple is a prediction too: "none of them"
    if not isinstance(value, str):
        raise ValueError(f"checkpoint '{spec.id}' takes one option key, not {value!r}")
    return spec.option(value).key


def check_measurement(spec: Question, measured: Any) -> Any:
    """The measured value in the checkpoint's terms; TypeError/ValueError for one it cannot compare."""
    if spec.kind == "numeric":
        if isinstance(measured, bool) or not isinstance(measured, numbers.Real):
            raise TypeError(f"checkpoint '{spec.id}' is revealed with a number, not {measured!r}")
        return as_number(measured)
    return check_prediction(spec, measured)


def resolve(spec: Question, prediction: Any, measured: Any) -> Outcome:
    """Compare prediction (None: nothing committed) with measured and explain the gap."""
    measured = check_measurement(spec, measured)
    if prediction is not None:
        prediction = check_prediction(spec, prediction)
    if spec.kind == "numeric":
        return _resolve_numeric(spec, prediction, measured)
    return _resolve_choice(spec, prediction, measured)


def _resolve_numeric(spec: Question, prediction: float | None, measured: float) -> Outcome:
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
    notes = [comparison]
    if spec.feedback is not None:
        notes.append(spec.feedback[direction])
    return Outcome(spec, prediction, measured, verdict, tuple(notes), relative)


def _resolve_choice(spec: Question, prediction: Any, measured: Any) -> Outcome:
    as_set = (lambda keys: set(keys)) if spec.kind == "multiple" else (lambda key: {key})
    measured_keys = as_set(measured)
    if prediction is None:
        verdict, explain = Verdict.NONE, measured_keys
        notes = [f"Measured: {_texts(spec, measured_keys)}."]
    else:
        predicted_keys = as_set(prediction)
        verdict = Verdict.MATCH if predicted_keys == measured_keys else Verdict.DIFFERENT
        # Where prediction and measurement disagree is where the explanation is needed.
        explain = measured_keys if verdict is Verdict.MATCH else predicted_keys ^ measured_keys
        notes = [f"You predicted: {_texts(spec, predicted_keys)}. Measured: {_texts(spec, measured_keys)}."]
    for option in spec.options:
        if option.key in explain and option.feedback:
            notes.append(f"{option.text}: {option.feedback}")
    return Outcome(spec, prediction, measured, verdict, tuple(notes))


def _texts(spec: Question, keys: set[str]) -> str:
    """The options' texts in option order, or 'none of them'."""
    texts = [option.text for option in spec.options if option.key in keys]
    return ", ".join(texts) if texts else "none of them"

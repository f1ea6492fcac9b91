"""Compare a committed prediction with the measurement: the pure model behind checkpoints."""

from __future__ import annotations

from typing import Any

from .kinds import kind_of
from .model import Question
from .outcomes import Outcome, Verdict

__all__ = ["Outcome", "Verdict", "check_measurement", "check_prediction", "resolve"]


def check_prediction(spec: Question, value: Any) -> Any:
    """A prediction as recorded (float, option key or tuple of keys); ValueError says what is wrong."""
    return kind_of(spec).check_prediction(spec, value)


def check_measurement(spec: Question, measured: Any) -> Any:
    """The measured value in the checkpoint's terms; TypeError/ValueError for one it cannot compare."""
    return kind_of(spec).check_measurement(spec, measured)


def resolve(spec: Question, prediction: Any, measured: Any) -> Outcome:
    """Compare prediction (None: nothing committed) with measured and explain the gap."""
    kind = kind_of(spec)
    measured = kind.check_measurement(spec, measured)
    if prediction is not None:
        prediction = kind.check_prediction(spec, prediction)
    return kind.resolve(spec, prediction, measured)

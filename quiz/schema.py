"""The bank file's schema, declared with pydantic: the fields every item shares, and errors that name their place.

Each kind of question (quiz.kinds) adds its own fields to `ItemEntry`; `bank_error` turns pydantic's
errors into one line naming the file, the item and the field, in the words of YAML, not Python's.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from .model import DEFAULT_CHECKPOINT_TOLERANCE, NAME_PATTERN, BankError, Tolerance


def yaml_kind(value: Any) -> str:
    """What a wrong value is, for the error message: in YAML's words, as bank authors write YAML."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "text" if isinstance(value, str) else f"a {type(value).__name__}"


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {yaml_kind(value)}")
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def _code(value: Any) -> str:
    return _text(value) and value.rstrip()  # code keeps its indentation


def _name(value: Any) -> str:
    value = _text(value)
    if not NAME_PATTERN.match(value):
        raise ValueError(f"'{value}' must be lowercase letters, digits and '-', starting with a letter")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"must be a number, not {yaml_kind(value)}")
    return float(value)


Text = Annotated[str, BeforeValidator(_text)]
Code = Annotated[str, BeforeValidator(_code)]
Name = Annotated[str, BeforeValidator(_name)]
Number = Annotated[float, BeforeValidator(_number)]


def tolerance(raw: Any) -> Tolerance:
    """A tolerance: a number (absolute, in the unit) or a text like '10%' (relative to the answer)."""
    if isinstance(raw, Tolerance):
        return raw
    if isinstance(raw, str) and raw.strip().endswith("%"):
        try:
            percent = float(raw.strip()[:-1])
        except ValueError:
            percent = math.nan
        if not math.isfinite(percent) or percent <= 0:
            raise ValueError(f"{raw!r} must be a percentage above 0, like '10%'")
        return Tolerance(percent / 100, relative=True)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw) or raw < 0:
        shown = f"{raw!r}" if isinstance(raw, (int, float, str)) and not isinstance(raw, bool) else yaml_kind(raw)
        raise ValueError(f"must be a number of units (>= 0) or a percentage like '10%', not {shown}")
    return Tolerance(float(raw), relative=False)


ToleranceField = Annotated[Tolerance, BeforeValidator(tolerance)]


class Entry(BaseModel):
    """A mapping of fields with no field the schema does not know (a typo would otherwise vanish silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class OptionEntry(Entry):
    """One option: its key (what is recorded), the text shown, and feedback saying why it is right or wrong."""

    key: Name
    text: Text
    feedback: Text | None = None


class ItemEntry(Entry):
    """The fields every question and checkpoint has; a kind adds its own (quiz.kinds)."""

    id: Name
    kind: str = "single"
    prompt: Text
    code: Code | None = None
    explanation: Text | None = None
    lesson: Name | None = None

    @model_validator(mode="before")
    @classmethod
    def _a_mapping(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(f"must be a mapping of fields, not {yaml_kind(data)}")
        return data

    @model_validator(mode="after")
    def _as_the_item_requires(self, info) -> ItemEntry:
        """A question needs its answer and explanation; a checkpoint has neither (its answer is measured)."""
        context = info.context or {}
        if context.get("checkpoint"):
            if getattr(self, "answer", None) is not None:
                raise FieldError("answer", "is not allowed in a checkpoint: the learner's measurement is the answer")
            if self.lesson is not None:
                raise FieldError("lesson", "is not allowed in a checkpoint: the lesson that reveals it says so")
        else:
            for name in ("answer", "explanation"):
                if getattr(self, name, None) is None:
                    raise FieldError(name, "is missing")
        return self


class FieldError(ValueError):
    """A rule about one field broken (of the item, or of its option `option`, counted from 1), told by name."""

    def __init__(self, field: str, problem: str, option: int | None = None) -> None:
        super().__init__(problem)
        self.field, self.problem, self.option = field, problem, option


def default_tolerance(checkpoint: bool) -> Tolerance | None:
    """A checkpoint with no tolerance given counts a prediction as close within 25%."""
    return tolerance(DEFAULT_CHECKPOINT_TOLERANCE) if checkpoint else None


# Where a nested entry sits in its item, and what one of them is called in a message.
NESTED_NAMES = {"options": "option", "feedback": "feedback"}


def bank_error(error: ValidationError, where: str, model: type[Entry], kind_name: str = "") -> BankError:
    """The first problem pydantic found, as one line naming the item, the field (and the option, if in one)."""
    first = error.errors(include_url=False)[0]
    location, kind = list(first["loc"]), first["type"]
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        location = ["options", cause.option - 1, cause.field] if cause.option else [*location, cause.field]
    item_model = model
    for name in list(location):  # the model the problem is in: an option's, or the item's own
        nested = model.model_fields.get(name) if isinstance(name, str) else None
        inner = _entry_class(nested.annotation) if nested is not None else None
        if inner is not None and location.index(name) < len(location) - 1:
            model = inner
    if len(location) >= 2 and isinstance(location[1], int):  # in a list's item: "option 2"
        where = f"{where}: {NESTED_NAMES.get(location[0], location[0])} {location[1] + 1}"
        location = location[2:]
    elif len(location) >= 2 and location[0] in NESTED_NAMES:  # in a mapping: "feedback"
        where = f"{where}: {location[0]}"
        location = location[1:]
    if isinstance(cause, FieldError):
        problem = cause.problem
    elif kind == "missing":
        problem = "is missing"
    elif kind == "extra_forbidden":
        inside = f" in a {kind_name} question" if kind_name and model is item_model else ""
        problem = f"is not allowed{inside} (allowed: {', '.join(sorted(model.model_fields))})"
    elif kind in ("list_type", "model_type", "dict_type"):
        wanted = "a list" if kind == "list_type" else "a mapping"
        problem = f"must be {wanted}, not {yaml_kind(first.get('input'))}"
    else:
        problem = str(cause) if cause is not None else first["msg"]
    if not location:
        return BankError(f"{where}: {problem}")
    return BankError(f"{where}: field '{location[-1]}' {problem}")


def _entry_class(annotation: Any) -> type[Entry] | None:
    """The Entry model inside an annotation such as list[OptionEntry] or FeedbackEntry | None."""
    if isinstance(annotation, type) and issubclass(annotation, Entry):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _entry_class(argument)
        if found is not None:
            return found
    return None

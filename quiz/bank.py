"""Load the question bank from YAML and check it against the schema."""

from __future__ import annotations

import collections.abc
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_BANK = Path(__file__).with_name("bank.yaml")
# Ids and keys end up in exports, CSS classes, file lines and commands: keep them plain.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]*$")
KINDS = ("single", "multiple", "numeric")
CHOICE_KINDS = ("single", "multiple")
# Where the learner's value lands against the target: the keys of a numeric item's feedback.
DIRECTIONS = ("low", "close", "high")
# A checkpoint's prediction is "close" within this when its definition names no tolerance.
DEFAULT_CHECKPOINT_TOLERANCE = "25%"
OPTION_FIELDS = {"key": True, "text": True, "feedback": True}
# field -> which kinds allow it (required fields are checked per kind below).
QUESTION_FIELDS = {
    "id": KINDS,
    "kind": KINDS,
    "prompt": KINDS,
    "code": KINDS,
    "options": CHOICE_KINDS,
    "answer": KINDS,
    "unit": ("numeric",),
    "tolerance": ("numeric",),
    "feedback": ("numeric",),
    "explanation": KINDS,
}


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
    """One question (or checkpoint): what is asked, how it is answered, the right answer and why."""

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
    """A checked question bank: the closing quiz's questions and the lessons' checkpoints."""

    title: str
    questions: tuple[Question, ...]
    checkpoints: tuple[Question, ...] = ()
    source: str = field(default="<bank>", compare=False)

    def question(self, ref: str | int) -> Question:
        """The question with this id, or with this 1-based number."""
        if isinstance(ref, int) and not isinstance(ref, bool):
            if 1 <= ref <= len(self.questions):
                return self.questions[ref - 1]
            raise ValueError(f"there is no question {ref}; questions are numbered 1 to {len(self.questions)}")
        for question in self.questions:
            if question.id == ref:
                return question
        ids = ", ".join(question.id for question in self.questions)
        raise ValueError(f"there is no question {ref!r}; the questions are: {ids}")

    def checkpoint(self, checkpoint_id: str) -> Question | None:
        """The checkpoint defined with this id, None when the bank has none."""
        return next((spec for spec in self.checkpoints if spec.id == checkpoint_id), None)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys, which plain YAML silently overwrites."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict:
    """Build a mapping, failing at the second occurrence of a key."""
    seen = set()
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, collections.abc.Hashable):
            break  # construct_mapping reports unhashable keys itself
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_bank(path: str | Path | None = None) -> Bank:
    """Read and check a bank file (default: the course's own bank.yaml)."""
    path = Path(path) if path is not None else DEFAULT_BANK
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise BankError(f"{path}: cannot read the question bank: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise BankError(f"{path}: the question bank is not UTF-8 text") from error
    return parse_bank(text, source=path.name)


def parse_bank(text: str, source: str = "<bank>") -> Bank:
    """Parse YAML text and check it; BankError names the source, question and field."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        # PyYAML's own message names "<unicode string>"; name the file and the place instead.
        mark = getattr(error, "problem_mark", None)
        place = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise BankError(f"{source}: not valid YAML{place}: {problem}") from error
    return check_bank(data, source)


def check_bank(data: Any, source: str = "<bank>") -> Bank:
    """Check already-parsed data against the schema and build the Bank."""
    if not isinstance(data, dict):
        raise BankError(f"{source}: the bank must be a mapping with 'title' and 'questions'")
    _reject_unknown(data, {"title", "questions", "checkpoints"}, source)
    title = _text(data, "title", source)
    questions = data.get("questions")
    if not isinstance(questions, list) or not questions:
        raise _error(source, "questions", "must be a non-empty list of questions")
    checked: list[Question] = []
    for number, entry in enumerate(questions, start=1):
        question = check_question(entry, f"{source}: question {number}")
        if any(question.id == other.id for other in checked):
            raise _error(f"{source}: question {number} ('{question.id}')", "id", "is the id of an earlier question")
        checked.append(question)
    checkpoints: list[Question] = []
    raw_checkpoints = data.get("checkpoints", [])
    if not isinstance(raw_checkpoints, list):
        raise _error(source, "checkpoints", f"must be a list of checkpoints, not {_kind(raw_checkpoints)}")
    for number, entry in enumerate(raw_checkpoints, start=1):
        spec = check_checkpoint(entry, f"{source}: checkpoint {number}")
        if any(spec.id == other.id for other in checkpoints):
            raise _error(f"{source}: checkpoint {number} ('{spec.id}')", "id", "is the id of an earlier checkpoint")
        checkpoints.append(spec)
    return Bank(title=title, questions=tuple(checked), checkpoints=tuple(checkpoints), source=source)


def check_question(entry: Any, where: str) -> Question:
    """One question entry, checked; where says which one for error messages."""
    return _check_item(entry, where, checkpoint=False)


def check_checkpoint(entry: Any, where: str, *, require_feedback: bool = True) -> Question:
    """One checkpoint entry (a question whose answer the learner measures), checked; feedback optional if not required."""
    # A checkpoint defined in a lesson cell may leave the feedback out: its reveal then says
    # only how far the prediction was from the measurement.
    return _check_item(entry, where, checkpoint=True, require_feedback=require_feedback)


def _check_item(entry: Any, where: str, *, checkpoint: bool, require_feedback: bool = True) -> Question:
    """A question or checkpoint: the common fields, then the fields of its kind."""
    if not isinstance(entry, dict):
        raise BankError(f"{where}: must be a mapping of fields, not {_kind(entry)}")
    if isinstance(entry.get("id"), str) and entry["id"].strip():
        where = f"{where} ('{entry['id'].strip()}')"  # name it by id as soon as we know it
    _reject_unknown(entry, set(QUESTION_FIELDS), where)
    if checkpoint and "answer" in entry:
        raise _error(where, "answer", "is not allowed in a checkpoint: the learner's measurement is the answer")
    if checkpoint and "kind" not in entry:
        raise _error(where, "kind", f"is missing (one of: {', '.join(KINDS)})")
    kind = _choice(entry, "kind", KINDS, where) if "kind" in entry else "single"
    for name, kinds in QUESTION_FIELDS.items():
        if name in entry and kind not in kinds:
            raise _error(where, name, f"is not allowed in a {kind} question (only in: {', '.join(kinds)})")
    required = ["id", "prompt"] + (["options"] if kind in CHOICE_KINDS else [])
    if not checkpoint:
        required += ["answer", "explanation"] + (["tolerance", "feedback"] if kind == "numeric" else [])
    elif kind == "numeric" and require_feedback:
        required += ["feedback"]
    for name in ("id", "prompt", "options", "answer", "tolerance", "feedback", "explanation"):
        if name in required and name not in entry:
            raise _error(where, name, "is missing")
    qid = _name(entry, "id", where)
    prompt = _text(entry, "prompt", where)
    code = _text(entry, "code", where) if "code" in entry else None
    explanation = _text(entry, "explanation", where) if "explanation" in entry or not checkpoint else ""
    if kind == "numeric":
        unit = _text(entry, "unit", where) if "unit" in entry else None
        default = DEFAULT_CHECKPOINT_TOLERANCE if checkpoint else None
        tolerance = check_tolerance(entry.get("tolerance", default), where)
        feedback = _check_numeric_feedback(entry["feedback"], where) if "feedback" in entry else None
        answer = None if checkpoint else _number(entry, "answer", where)
        return Question(qid, prompt, (), answer, explanation, code, kind, unit, tolerance, feedback)
    options = _check_options(entry["options"], where, require_feedback)
    keys = [option.key for option in options]
    if checkpoint:
        answer = None
    elif kind == "single":
        answer = _name(entry, "answer", where)
        if answer not in keys:
            raise _error(where, "answer", f"'{answer}' is not one of the option keys ({', '.join(keys)})")
    else:
        answer = _check_answer_keys(entry["answer"], keys, where)
    return Question(qid, prompt, options, answer, explanation, code, kind)


def _check_options(raw_options: Any, where: str, require_feedback: bool = True) -> tuple[Option, ...]:
    """The options list: at least two, unique keys and texts."""
    if not isinstance(raw_options, list) or len(raw_options) < 2:
        raise _error(where, "options", "must be a list of at least 2 options")
    options: list[Option] = []
    for number, raw in enumerate(raw_options, start=1):
        option = _check_option(raw, f"{where}: option {number}", require_feedback)
        if any(option.key == other.key for other in options):
            raise _error(f"{where}: option {number}", "key", f"'{option.key}' is the key of an earlier option")
        if any(option.text == other.text for other in options):
            raise _error(f"{where}: option {number}", "text", "is the same as an earlier option's")
        options.append(option)
    return tuple(options)


def _check_option(raw: Any, where: str, require_feedback: bool = True) -> Option:
    """One option entry, checked."""
    if not isinstance(raw, dict):
        raise BankError(f"{where}: must be a mapping with key, text and feedback, not {_kind(raw)}")
    _reject_unknown(raw, set(OPTION_FIELDS), where)
    for name in OPTION_FIELDS:
        if name not in raw and (require_feedback or name != "feedback"):
            raise _error(where, name, "is missing")
    feedback = _text(raw, "feedback", where) if "feedback" in raw else ""
    return Option(_name(raw, "key", where), _text(raw, "text", where), feedback)


def _check_answer_keys(raw: Any, keys: list[str], where: str) -> tuple[str, ...]:
    """A multiple-choice answer: a non-empty list of distinct option keys, kept in option order."""
    if not isinstance(raw, list) or not raw:
        raise _error(where, "answer", f"must be a non-empty list of option keys, not {_kind(raw)}")
    chosen = []
    for value in raw:
        if not isinstance(value, str) or value not in keys:
            raise _error(where, "answer", f"{value!r} is not one of the option keys ({', '.join(keys)})")
        if value in chosen:
            raise _error(where, "answer", f"names '{value}' twice")
        chosen.append(value)
    return tuple(key for key in keys if key in chosen)


def check_tolerance(raw: Any, where: str) -> Tolerance:
    """A tolerance: a number (absolute, in the unit) or a text like '10%' (relative to the answer)."""
    if isinstance(raw, str) and raw.strip().endswith("%"):
        try:
            percent = float(raw.strip()[:-1])
        except ValueError:
            percent = math.nan
        if not math.isfinite(percent) or percent <= 0:
            raise _error(where, "tolerance", f"{raw!r} must be a percentage above 0, like '10%'")
        return Tolerance(percent / 100, relative=True)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw) or raw < 0:
        shown = f"{raw!r}" if isinstance(raw, (int, float, str)) and not isinstance(raw, bool) else _kind(raw)
        raise _error(where, "tolerance", f"must be a number of units (>= 0) or a percentage like '10%', not {shown}")
    return Tolerance(float(raw), relative=False)


def _check_numeric_feedback(raw: Any, where: str) -> NumericFeedback:
    """The feedback of a numeric item: what to say when the value is low, close or high."""
    if not isinstance(raw, dict):
        raise _error(where, "feedback", f"must be a mapping with {', '.join(DIRECTIONS)}, not {_kind(raw)}")
    inner = f"{where}: feedback"
    _reject_unknown(raw, set(DIRECTIONS), inner)
    for name in DIRECTIONS:
        if name not in raw:
            raise _error(inner, name, "is missing")
    return NumericFeedback(*(_text(raw, name, inner) for name in DIRECTIONS))


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


def _error(where: str, name: str, problem: str) -> BankError:
    """The error for one field, in the one format every message shares."""
    return BankError(f"{where}: field '{name}' {problem}")


def _reject_unknown(mapping: dict, allowed: set[str], where: str) -> None:
    """Fail on a field the schema does not know."""
    # A typo such as 'explaination' would otherwise drop the field silently.
    for name in mapping:
        if name not in allowed:
            raise _error(where, str(name), f"is not allowed (allowed: {', '.join(sorted(allowed))})")


def _text(mapping: dict, name: str, where: str) -> str:
    """A required non-empty text field."""
    value = mapping.get(name)
    if not isinstance(value, str):
        raise _error(where, name, f"must be text, not {_kind(value)}")
    if not value.strip():
        raise _error(where, name, "must not be empty")
    # Code keeps its indentation; prose loses stray surrounding whitespace.
    return value.rstrip() if name == "code" else value.strip()


def _name(mapping: dict, name: str, where: str) -> str:
    """A text field used as an identifier (ids and keys)."""
    value = _text(mapping, name, where)
    if not NAME_PATTERN.match(value):
        raise _error(where, name, f"'{value}' must be lowercase letters, digits and '-', starting with a letter")
    return value


def _choice(mapping: dict, name: str, allowed: tuple[str, ...], where: str) -> str:
    """A text field that must be one of a few words."""
    value = _text(mapping, name, where)
    if value not in allowed:
        raise _error(where, name, f"'{value}' must be one of: {', '.join(allowed)}")
    return value


def _number(mapping: dict, name: str, where: str) -> float:
    """A finite number field."""
    value = mapping.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _error(where, name, f"must be a number, not {_kind(value)}")
    return float(value)


def _kind(value: Any) -> str:
    """What a wrong value is, for the error message."""
    # In YAML's words, not Python's: bank authors write YAML.
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

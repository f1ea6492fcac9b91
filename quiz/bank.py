"""Load the question bank from YAML and check it against the schema its kinds declare."""

from __future__ import annotations

import collections.abc
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .kinds import KINDS, kind_of
from .model import (
    DEFAULT_CHECKPOINT_TOLERANCE,
    Bank,
    BankError,
    NumericFeedback,
    Option,
    Question,
    Tolerance,
    format_number,
    format_percent,
)
from .schema import bank_error, tolerance, yaml_kind

DEFAULT_BANK = Path(__file__).with_name("bank.yaml")
BANK_FIELDS = ("title", "questions", "checkpoints")

__all__ = [
    "BANK_FIELDS", "DEFAULT_BANK", "DEFAULT_CHECKPOINT_TOLERANCE", "Bank", "BankError", "NumericFeedback", "Option",
    "Question", "Tolerance", "check_bank", "check_checkpoint", "check_question", "check_tolerance", "format_number",
    "format_percent", "load_bank", "parse_bank",
]  # fmt: skip


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser where PyYAML has it: 5x
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
    for name in data:
        if name not in BANK_FIELDS:
            raise BankError(f"{source}: field '{name}' is not allowed (allowed: {', '.join(sorted(BANK_FIELDS))})")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise BankError(f"{source}: field 'title' must be text, not {yaml_kind(title)}")
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        raise BankError(f"{source}: field 'questions' must be a non-empty list of questions")
    questions = _items(raw_questions, f"{source}: question", check_question, "question")
    raw_checkpoints = data.get("checkpoints", [])
    if not isinstance(raw_checkpoints, list):
        raise BankError(
            f"{source}: field 'checkpoints' must be a list of checkpoints, not {yaml_kind(raw_checkpoints)}"
        )
    checkpoints = _items(raw_checkpoints, f"{source}: checkpoint", check_checkpoint, "checkpoint")
    closing = tuple(q for q in questions if q.lesson is None)
    if not closing:
        raise BankError(f"{source}: field 'questions' has no question without a lesson: the closing quiz is empty")
    return Bank(title.strip(), closing, checkpoints, tuple(q for q in questions if q.lesson is not None), source)


def _items(raw: list, where: str, check, noun: str) -> tuple[Question, ...]:
    """Every entry checked, with ids that no earlier entry has."""
    checked: list[Question] = []
    for number, entry in enumerate(raw, start=1):
        item = check(entry, f"{where} {number}")
        if any(item.id == other.id for other in checked):
            raise BankError(f"{where} {number} ('{item.id}'): field 'id' is the id of an earlier {noun}")
        checked.append(item)
    return tuple(checked)


def check_question(entry: Any, where: str) -> Question:
    """One question entry, checked; where says which one for error messages."""
    return _check_item(entry, where, checkpoint=False)


def check_checkpoint(entry: Any, where: str, *, require_feedback: bool = True) -> Question:
    """One checkpoint entry (a question whose answer the learner measures), checked; feedback optional if not required."""
    # A checkpoint defined in a lesson cell may leave the feedback out: its reveal then says
    # only how far the prediction was from the measurement.
    return _check_item(entry, where, checkpoint=True, require_feedback=require_feedback)


def _check_item(entry: Any, where: str, *, checkpoint: bool, require_feedback: bool = True) -> Question:
    """A question or checkpoint, checked by the schema of its kind."""
    if not isinstance(entry, dict):
        raise BankError(f"{where}: must be a mapping of fields, not {yaml_kind(entry)}")
    if isinstance(entry.get("id"), str) and entry["id"].strip():
        where = f"{where} ('{entry['id'].strip()}')"  # name it by id as soon as we know it
    if checkpoint and "kind" not in entry:
        raise BankError(f"{where}: field 'kind' is missing (one of: {', '.join(KINDS)})")
    name = entry.get("kind", "single")
    try:
        kind = kind_of(name if isinstance(name, str) else repr(name))
    except ValueError as error:
        raise BankError(f"{where}: field 'kind' {error}") from None
    context = {"checkpoint": checkpoint, "require_feedback": require_feedback}
    try:
        checked = kind.entry.model_validate(entry, context=context)
    except ValidationError as error:
        raise bank_error(error, where, kind.entry, kind.name) from None
    return kind.build(checked, checkpoint)


def check_tolerance(raw: Any, where: str) -> Tolerance:
    """A tolerance: a number (absolute, in the unit) or a text like '10%' (relative to the answer)."""
    try:
        return tolerance(raw)
    except ValueError as error:
        raise BankError(f"{where}: field 'tolerance' {error}") from None

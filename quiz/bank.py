"""Load the question bank from YAML and check it against the schema."""

from __future__ import annotations

import collections.abc
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_BANK = Path(__file__).with_name("bank.yaml")
# Ids and keys end up in exports, CSS classes and commands: keep them plain.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]*$")
QUESTION_FIELDS = {"id": True, "prompt": True, "code": False, "options": True, "answer": True, "explanation": True}
OPTION_FIELDS = {"key": True, "text": True, "feedback": True}


class BankError(ValueError):
    """The question bank is malformed; the message names the file, question and field."""


@dataclass(frozen=True)
class Option:
    """One answer a learner can choose."""

    key: str
    text: str
    feedback: str


@dataclass(frozen=True)
class Question:
    """One question: what is asked, the options, the correct one and why."""

    id: str
    prompt: str
    options: tuple[Option, ...]
    answer: str
    explanation: str
    code: str | None = None

    def option(self, key: str) -> Option:
        """The option with this key; ValueError naming the valid keys otherwise."""
        for option in self.options:
            if option.key == key:
                return option
        keys = ", ".join(option.key for option in self.options)
        raise ValueError(f"question '{self.id}' has no option {key!r}; choose one of: {keys}")


@dataclass(frozen=True)
class Bank:
    """A checked question bank."""

    title: str
    questions: tuple[Question, ...]

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
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
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
    _reject_unknown(data, {"title", "questions"}, source)
    title = _text(data, "title", source)
    questions = data.get("questions")
    if not isinstance(questions, list) or not questions:
        raise _error(source, "questions", "must be a non-empty list of questions")
    checked: list[Question] = []
    for number, entry in enumerate(questions, start=1):
        question = _check_question(entry, f"{source}: question {number}")
        if any(question.id == other.id for other in checked):
            raise _error(f"{source}: question {number} ('{question.id}')", "id", "is the id of an earlier question")
        checked.append(question)
    return Bank(title=title, questions=tuple(checked))


def _check_question(entry: Any, where: str) -> Question:
    """One question entry, checked; where says which one for error messages."""
    if not isinstance(entry, dict):
        raise BankError(f"{where}: must be a mapping of fields, not {_kind(entry)}")
    if isinstance(entry.get("id"), str) and entry["id"].strip():
        where = f"{where} ('{entry['id'].strip()}')"  # name it by id as soon as we know it
    _reject_unknown(entry, set(QUESTION_FIELDS), where)
    for field, required in QUESTION_FIELDS.items():
        if required and field not in entry:
            raise _error(where, field, "is missing")
    qid = _name(entry, "id", where)
    prompt = _text(entry, "prompt", where)
    code = _text(entry, "code", where) if "code" in entry else None
    raw_options = entry["options"]
    if not isinstance(raw_options, list) or len(raw_options) < 2:
        raise _error(where, "options", "must be a list of at least 2 options")
    options: list[Option] = []
    for number, raw in enumerate(raw_options, start=1):
        option = _check_option(raw, f"{where}: option {number}")
        if any(option.key == other.key for other in options):
            raise _error(f"{where}: option {number}", "key", f"'{option.key}' is the key of an earlier option")
        if any(option.text == other.text for other in options):
            raise _error(f"{where}: option {number}", "text", "is the same as an earlier option's")
        options.append(option)
    answer = _name(entry, "answer", where)
    if answer not in {option.key for option in options}:
        keys = ", ".join(option.key for option in options)
        raise _error(where, "answer", f"'{answer}' is not one of the option keys ({keys})")
    explanation = _text(entry, "explanation", where)
    return Question(qid, prompt, tuple(options), answer, explanation, code)


def _check_option(raw: Any, where: str) -> Option:
    """One option entry, checked."""
    if not isinstance(raw, dict):
        raise BankError(f"{where}: must be a mapping with key, text and feedback, not {_kind(raw)}")
    _reject_unknown(raw, set(OPTION_FIELDS), where)
    for field in OPTION_FIELDS:
        if field not in raw:
            raise _error(where, field, "is missing")
    return Option(_name(raw, "key", where), _text(raw, "text", where), _text(raw, "feedback", where))


def _error(where: str, field: str, problem: str) -> BankError:
    """The error for one field, in the one format every message shares."""
    return BankError(f"{where}: field '{field}' {problem}")


def _reject_unknown(mapping: dict, allowed: set[str], where: str) -> None:
    """Fail on a field the schema does not know."""
    # A typo such as 'explaination' would otherwise drop the field silently.
    for field in mapping:
        if field not in allowed:
            raise _error(where, str(field), f"is not allowed (allowed: {', '.join(sorted(allowed))})")


def _text(mapping: dict, field: str, where: str) -> str:
    """A required non-empty text field."""
    value = mapping.get(field)
    if not isinstance(value, str):
        raise _error(where, field, f"must be text, not {_kind(value)}")
    if not value.strip():
        raise _error(where, field, "must not be empty")
    # Code keeps its indentation; prose loses stray surrounding whitespace.
    return value.rstrip() if field == "code" else value.strip()


def _name(mapping: dict, field: str, where: str) -> str:
    """A text field used as an identifier (ids and keys)."""
    value = _text(mapping, field, where)
    if not NAME_PATTERN.match(value):
        raise _error(where, field, f"'{value}' must be lowercase letters, digits and '-', starting with a letter")
    return value


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

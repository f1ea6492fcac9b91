"""Quiz banks as the YAML file writes them, and the errors a broken one gets."""

from __future__ import annotations

import json as jsonlib
from typing import Any

import pytest

from quiz.bank import BankError


def option(key: str, text: str, feedback: str) -> dict:
    """One option of a bank question, as the YAML file writes it."""
    return {"key": key, "text": text, "feedback": feedback}


def question(qid: str, prompt: str, options: list[dict], answer: Any, explanation: str, **more: Any) -> dict:
    """One bank question, as the YAML file writes it (`kind`, `code`, ... in `more`)."""
    return {"id": qid, **({"kind": more.pop("kind")} if "kind" in more else {}), "prompt": prompt, **more,
            "options": options, "answer": answer, "explanation": explanation}  # fmt: skip


def broken_copy(bank: dict, change) -> dict:
    """A deep copy of a valid bank after change(data) broke something in it."""
    data = jsonlib.loads(jsonlib.dumps(bank))
    change(data)
    return data


def refused_with(check, data, source: str, pieces: list[str], case: str = "") -> str:
    """The BankError message `check(data, source)` raises, checked to start with the file and name every piece."""
    with pytest.raises(BankError) as raised:
        check(data, source)
    message = str(raised.value)
    assert message.startswith(f"{source}:")
    for piece in pieces:
        assert piece in message, f"{case}: {piece!r} not in {message!r}"
    return message

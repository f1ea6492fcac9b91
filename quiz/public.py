"""A question or checkpoint as readable Markdown, with nothing that gives it away: for pages without widgets."""

from __future__ import annotations

import re
import string
from pathlib import Path

from .bank import Bank, load_bank
from .kinds import kind_of
from .model import Question

# What Markdown would read as markup in prose: emphasis, code, links, HTML, tables, a backslash itself.
MARKUP = re.compile(r"([\\`*_\[\]<>|])")


def public_markdown(item_id: str, *, bank: Bank | str | Path | None = None, checkpoint: bool | None = None) -> str:
    """The prompt, code, options (lettered) or unit of a question or checkpoint; never its answer or feedback.

    `item_id` names a closing-quiz question, a lesson question or a checkpoint of the bank (default: the course's).
    """
    if not isinstance(bank, Bank):
        bank = load_bank(bank)
    spec = bank.checkpoint(item_id) if checkpoint is not False else None
    item = spec or bank.any_question(item_id)
    return markdown_of(item)


def markdown_of(item: Question) -> str:
    """The Markdown for one item (see public_markdown): prompt, code, how to answer, the options as a lettered list."""
    lines = [escape(item.prompt), ""]
    if item.code:
        lines += ["```python", item.code, "```", ""]
    lines += [kind_of(item).how_to_answer(item), ""]
    letters = string.ascii_uppercase
    lines += [f"- {letter}. {escape(option.text)}" for letter, option in zip(letters, item.options, strict=False)]
    return "\n".join(lines).rstrip() + "\n"


def escape(text: str) -> str:
    """Prose shown as written: each character Markdown would read as markup gets its backslash."""
    return MARKUP.sub(r"\\\1", text)

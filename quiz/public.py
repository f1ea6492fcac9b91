"""A question or checkpoint as readable Markdown, with nothing that gives it away: for pages without widgets."""

from __future__ import annotations

import string
from pathlib import Path

from .bank import Bank, load_bank
from .model import Question

HOW = {
    "single": "Choose one.",
    "multiple": "Choose every option that applies.",
    "numeric": "Answer with a number",
}


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
    """The Markdown for one item (see public_markdown)."""
    lines = [item.prompt, ""]
    if item.code:
        lines += ["```python", item.code, "```", ""]
    if item.options:
        lines.append(HOW[item.kind])
        lines.append("")
        lines += [
            f"{letter}. {option.text}" for letter, option in zip(string.ascii_uppercase, item.options, strict=False)
        ]
    else:
        lines.append(HOW["numeric"] + (f", in {item.unit}." if item.unit else "."))
    return "\n".join(lines).rstrip() + "\n"

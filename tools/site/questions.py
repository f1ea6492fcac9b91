"""The lessons' widgets as readable text: each question shown from the bank, never its answer or feedback."""

from __future__ import annotations

import re

import nbformat

from quiz import load_bank
from quiz.public import markdown_of, public_markdown

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
CHECKPOINT = re.compile(r'quiz\.checkpoint\(\s*"([\w-]+)"')
ASKED = re.compile(r'quiz\.ask\(\s*"([\w-]+)"')
WHERE = "*Answer it in the notebook: see **Run this lesson** at the top of the page.*"
PREDICT = (
    "*Commit your prediction in the notebook, before the measurement: see **Run this lesson** at the top of the page.*"
)
REVEALED = "*In the notebook, this cell compares your prediction with what was measured.*"
REMOVE = "remove-cell"  # myst-nb's tag: neither the cell nor its output is on the page


def markdown_output(text: str) -> nbformat.NotebookNode:
    """A display output holding Markdown."""
    return nbformat.v4.new_output("display_data", data={"text/markdown": text})


def question_outputs(source: str) -> list | None:
    """The outputs a cell that shows a quiz widget gets on the site; None for any other cell."""
    if "quiz.show(" in source:
        bank = load_bank()
        parts = [f"**Question {number}.** {markdown_of(question)}" for number, question in enumerate(bank.questions, 1)]
        return [markdown_output("\n\n".join([*parts, WHERE]))]
    asked = ASKED.findall(source)
    if asked:
        return [markdown_output("\n\n".join([*(public_markdown(qid) for qid in asked), WHERE]))]
    predicted = CHECKPOINT.findall(source)
    if predicted:
        return [markdown_output("\n\n".join([*(public_markdown(cid, checkpoint=True) for cid in predicted), PREDICT]))]
    if ".reveal(" in source:
        return [markdown_output(REVEALED)]
    return None


def without_widgets(outputs: list) -> list:
    """The outputs with every widget view taken out (a progress bar keeps its text); empty ones dropped."""
    kept = []
    for output in outputs:
        data = output.get("data")
        if data is not None and WIDGET_MIME in data:
            data = {mime: value for mime, value in data.items() if mime != WIDGET_MIME}
            if not data:
                continue
            output = {**output, "data": data}
        kept.append(nbformat.from_dict(output))
    return kept


def for_the_site(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of a lesson notebook with no widget state and its quiz cells shown as text."""
    nb = nbformat.from_dict(nb)
    nb.metadata.pop("widgets", None)  # saved widget state: feedback included, and a renderer from a CDN
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.metadata.get("jupyter", {}).get("outputs_hidden"):
            # A cell the notebook keeps closed (lesson 21's spoilers: the answers, graded): not on a page.
            cell.metadata["tags"] = [*cell.metadata.get("tags", []), REMOVE]
            continue
        replaced = question_outputs(cell.source)
        cell.outputs = replaced if replaced is not None else without_widgets(cell.outputs)
    return nb

"""A lesson's own question in a real JupyterLab: shown once, answered by clicks, recorded and counted by lesson."""

import io
import json

import nbformat
import pytest
from browser_fixtures import NOTEBOOK, open_notebook, wait_for_kernel_idle
from playwright.sync_api import expect

from quiz import cli, load_bank

pytestmark = pytest.mark.browser

QUESTION = load_bank().lesson_question("blocking-two-mails")
WRONG = next(option for option in QUESTION.options if option.key != QUESTION.answer)
RIGHT = QUESTION.option(QUESTION.answer)


def test_a_lesson_question_is_answered_by_clicks_recorded_and_reported(
    chromium, jupyter_lab_factory, tmp_path, monkeypatch
):
    root, responses = tmp_path / "root", tmp_path / "responses"
    root.mkdir()
    responses.mkdir()
    # The cell as a lesson writes it: its last line shows the question.
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f'import quiz\n\nquiz.ask("{QUESTION.id}")')])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "lesson.ipynb")
    monkeypatch.setenv("QUIZ_RESPONSES_DIR", str(responses))  # the server passes it on to the kernel
    monkeypatch.setenv("QUIZ_LEARNER", "learner-in-the-browser")
    server = jupyter_lab_factory(root)
    context = chromium.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        open_notebook(page, server, "lesson.ipynb")
        page.locator(f"{NOTEBOOK} .jp-CodeCell .jp-InputArea-editor").first.click()
        page.keyboard.press("Shift+Enter")
        shown = page.locator(f"{NOTEBOOK} .fmq-lesson-{QUESTION.id}")
        expect(shown).to_have_count(1)  # shown once, not once by ask() and again as the cell's value
        wait_for_kernel_idle(page)
        expect(shown).to_contain_text(" ".join(QUESTION.prompt.split()))
        check = shown.get_by_role("button", name="Check")

        shown.get_by_label(WRONG.text).click()
        check.click()
        feedback = shown.locator(".fmq-feedback.fmq-incorrect")
        expect(feedback).to_contain_text("Not yet.")
        expect(feedback).to_contain_text(WRONG.feedback)

        shown.get_by_label(RIGHT.text).click()
        expect(shown.locator(".fmq-feedback")).to_have_count(0)  # a new choice clears the old feedback
        check.click()
        feedback = shown.locator(".fmq-feedback.fmq-correct")
        expect(feedback).to_contain_text("Correct!")
        expect(feedback).to_contain_text(QUESTION.explanation)
        wait_for_kernel_idle(page)
    finally:
        context.close()
        server.stop()

    lines = [json.loads(text) for text in (responses / "learner-in-the-browser.jsonl").read_text().splitlines()]
    assert [(line["question"], line["answer"], line["correct"]) for line in lines] == [
        (QUESTION.id, WRONG.key, False),
        (QUESTION.id, RIGHT.key, True),
    ]
    out = io.StringIO()
    assert cli.report_main([str(responses)], stdout=out, stderr=io.StringIO()) == 0
    assert f"Lesson questions: {QUESTION.lesson}" in out.getvalue()
    assert "answered by 1 · first try correct 0 of 1 (0%) · eventually correct 1 of 1 (100%)" in out.getvalue()

"""A lesson's own question in a real JupyterLab: shown once, answered by clicks, recorded and counted by lesson."""

import io
import json

import pytest
from browser_fixtures import (
    LAB_LEARNER,
    NOTEBOOK,
    open_notebook,
    recorded_answers,
    wait_for_kernel_idle,
    write_notebook,
)
from playwright.sync_api import expect

from quiz import cli, load_bank

pytestmark = pytest.mark.browser

QUESTION = load_bank().lesson_question("blocking-two-mails")
WRONG = next(option for option in QUESTION.options if option.key != QUESTION.answer)
RIGHT = QUESTION.option(QUESTION.answer)


def test_a_lesson_question_is_answered_by_clicks_recorded_and_reported(lab_page, jupyter_lab, tmp_path):
    # The cell as a lesson writes it: its last line shows the question.
    write_notebook(jupyter_lab.root_dir / "lesson-question.ipynb", [f'import quiz\n\nquiz.ask("{QUESTION.id}")'])
    # The server passes QUIZ_RESPONSES_DIR on to the kernel, as a hub's Spawner.environment does.
    answers_before = len(recorded_answers(jupyter_lab))
    page = lab_page
    open_notebook(page, jupyter_lab, "lesson-question.ipynb")
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

    lines = recorded_answers(jupyter_lab)[answers_before:]
    assert [(line["question"], line["answer"], line["correct"]) for line in lines] == [
        (QUESTION.id, WRONG.key, False),
        (QUESTION.id, RIGHT.key, True),
    ]
    # The report over this test's answers alone: the session's other browser tests record into the same folder.
    responses = tmp_path / "responses"
    responses.mkdir()
    (responses / f"{LAB_LEARNER}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = io.StringIO()
    assert cli.report_main([str(responses)], stdout=out, stderr=io.StringIO()) == 0
    assert f"Lesson questions: {QUESTION.lesson}" in out.getvalue()
    assert "answered by 1 · first try correct 0 of 1 (0%) · eventually correct 1 of 1 (100%)" in out.getvalue()

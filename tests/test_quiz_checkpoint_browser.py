"""A checkpoint in a real JupyterLab: typed, committed by a click, revealed, and recorded for the class report."""

import pytest
from browser_fixtures import NOTEBOOK, open_notebook, recorded_answers, wait_for_kernel_idle, write_notebook
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CELLS = [
    'import quiz\nguess = quiz.checkpoint("blocking-response")',
    "guess.reveal(502.3)  # the measurement, as a lesson's measuring cell would give it",
]


def test_a_checkpoint_is_committed_by_click_and_revealed_in_jupyterlab(lab_page, jupyter_lab, tmp_path):
    write_notebook(jupyter_lab.root_dir / "checkpoint.ipynb", CELLS)
    # The server passes QUIZ_RESPONSES_DIR on to the kernel, as a hub's Spawner.environment does.
    answers_before = len(recorded_answers(jupyter_lab))
    page = lab_page
    open_notebook(page, jupyter_lab, "checkpoint.ipynb")
    cells = page.locator(f"{NOTEBOOK} .jp-CodeCell")

    # Run the checkpoint's cell only, as a learner does before measuring.
    cells.nth(0).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    card = page.locator(f"{NOTEBOOK} .fmq-checkpoint-blocking-response")
    expect(card).to_contain_text("How long will one blocking send take with a 0.5 s mail server delay?")
    wait_for_kernel_idle(page)

    # Commit with nothing typed: told what to do, nothing committed.
    card.get_by_role("button", name="Commit").click()
    expect(card).to_contain_text("Type a number first, then press Commit.")

    card.locator("input[type=text]").fill("450")
    card.get_by_role("button", name="Commit").click()
    expect(card).to_contain_text("Your prediction: 450 ms.")
    expect(card.locator("input[type=text]")).to_be_disabled()
    expect(card.get_by_role("button", name="Commit")).to_be_disabled()

    # The measuring cell reveals: prediction against measurement, here and in the card above.
    cells.nth(1).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    reveal = cells.nth(1).locator(".fmq-reveal-blocking-response")
    expect(reveal).to_contain_text("Close! You predicted 450 ms; the measurement is 502.3 ms, within 20%.")
    expect(reveal.locator(".fmq-feedback.fmq-correct")).to_have_count(1)
    expect(card.locator(".fmq-feedback")).to_contain_text("the measurement is 502.3 ms")
    wait_for_kernel_idle(page)
    page.screenshot(path=tmp_path / "checkpoint.png", full_page=True)

    (line,) = recorded_answers(jupyter_lab)[answers_before:]
    assert (line["checkpoint"], line["answer"], line["measured"]) == ("blocking-response", 450.0, 502.3)
    assert line["correct"] is True

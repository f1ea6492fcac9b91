"""The quiz in a real JupyterLab in a real Chromium: clicked, checked and scored on the page."""

import urllib.error

import pytest
from browser_fixtures import NOTEBOOK, NOTEBOOKS_DIR, open_notebook, run_all_cells
from playwright.sync_api import expect

from quiz import load_bank

pytestmark = pytest.mark.browser
# Found by name, not number: lessons get renumbered when one is added before the quiz.
(NOTEBOOK_NAME,) = [path.name for path in NOTEBOOKS_DIR.glob("[0-9][0-9]-quiz.ipynb")]
BANK = load_bank()


def option_text(question_id, correct=True):
    """The label of the correct option (or of the first wrong one), from the bank itself."""
    question = BANK.question(question_id)
    return next(o.text for o in question.options if (o.key == question.answer) == correct)


def test_quiz_is_answered_by_clicks_and_keys_in_jupyterlab(lab_page, jupyter_lab, tmp_path):
    """Run the notebook, answer by mouse and keyboard, read feedback, score and kernel state."""
    assert (NOTEBOOKS_DIR / NOTEBOOK_NAME).exists(), "build it first: make notebooks"
    page = lab_page
    page.set_viewport_size({"width": 1280, "height": 1800})  # the whole quiz fits on screen
    open_notebook(page, jupyter_lab, NOTEBOOK_NAME)
    run_all_cells(page)

    quiz = page.locator(f"{NOTEBOOK} .fmq-quiz")
    expect(quiz).to_have_count(1)  # the worked example's second quiz is never displayed
    score = quiz.locator(".fmq-score")
    expect(score).to_have_text("Checked 0 of 3 questions; your score appears when all 3 are checked.")

    def card(question_id):
        return quiz.locator(f".fmq-question-{question_id}")

    # Check with nothing chosen: told to choose, not graded wrong.
    blocking = card("blocking")
    blocking.get_by_role("button", name="Check").click()
    expect(blocking.locator(".fmq-feedback.fmq-unanswered")).to_contain_text("Choose an answer first.")
    expect(score).to_contain_text("Checked 0 of 3")

    # Question 1, right, by mouse: the explanation is revealed.
    blocking.get_by_label(option_text("blocking")).click()
    expect(blocking.locator(".fmq-feedback")).to_have_count(0)  # a new choice clears old feedback
    blocking.get_by_role("button", name="Check").click()
    feedback = blocking.locator(".fmq-feedback.fmq-correct")
    expect(feedback).to_contain_text("Correct!")
    expect(feedback).to_contain_text(BANK.question("blocking").explanation)

    # Question 2, wrong, by mouse: the option's own feedback says why.
    threaded = card("threaded")
    wrong = BANK.question("threaded").option("faster-send")
    threaded.get_by_label(wrong.text).click()
    threaded.get_by_role("button", name="Check").click()
    feedback = threaded.locator(".fmq-feedback.fmq-incorrect")
    expect(feedback).to_contain_text("Not yet.")
    expect(feedback).to_contain_text(wrong.feedback)
    expect(score).to_contain_text("Checked 2 of 3")

    # Question 3, right, by keyboard only: Tab from question 2's Check to the right option,
    # Space to choose it, Tab past the options after it to Check, Enter to press it.
    verify = card("verify")
    options = verify.locator('input[type="radio"]')
    right = [option.key for option in BANK.question("verify").options].index(BANK.question("verify").answer)
    threaded.get_by_role("button", name="Check").focus()
    for _ in range(right + 1):
        page.keyboard.press("Tab")
    expect(options.nth(right)).to_be_focused()
    page.keyboard.press("Space")
    expect(verify.get_by_label(option_text("verify"))).to_be_checked()
    for _ in range(options.count() - right):
        page.keyboard.press("Tab")
    expect(verify.get_by_role("button", name="Check")).to_be_focused()
    page.keyboard.press("Enter")
    expect(verify.locator(".fmq-feedback.fmq-correct")).to_contain_text("Correct!")
    expect(score).to_contain_text("Score: 2 / 3")

    # Fix question 2: the score follows.
    threaded.get_by_label(option_text("threaded")).click()
    expect(score).to_contain_text("Checked 2 of 3")
    threaded.get_by_role("button", name="Check").click()
    expect(threaded.locator(".fmq-feedback.fmq-correct")).to_contain_text("Correct!")
    expect(score).to_have_text("Score: 3 / 3")
    expect(quiz).to_contain_text("All correct. Well done!")
    quiz.screenshot(path=tmp_path / "quiz-3-of-3.png")

    # The kernel has the answers the clicks gave: re-run the cell that prints them.
    responses_cell = page.locator(f"{NOTEBOOK} .jp-CodeCell", has_text="print(quiz.responses)")
    responses_cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    output = responses_cell.locator(".jp-OutputArea-output")
    expect(output).to_contain_text("'threaded': 'returns-at-once'")
    expect(output).to_contain_text("score: 3 / 3")

    # Try again clears everything.
    quiz.get_by_role("button", name="Try again").click()
    expect(score).to_contain_text("Checked 0 of 3")
    expect(quiz.locator(".fmq-feedback")).to_have_count(0)
    expect(quiz.locator('input[type="radio"]:checked')).to_have_count(0)


def test_quiz_works_in_the_classic_notebook_interface_too(lab_page, jupyter_lab):
    """Notebook 7, where some classes send learners: run, answer one question, see the verdict."""
    open_notebook(lab_page, jupyter_lab, NOTEBOOK_NAME, ui="notebook")
    run_all_cells(lab_page)
    card = lab_page.locator(f"{NOTEBOOK} .fmq-quiz .fmq-question-blocking")
    card.get_by_label(option_text("blocking", correct=False)).click()
    card.get_by_role("button", name="Check").click()
    expect(card.locator(".fmq-feedback.fmq-incorrect")).to_contain_text("Not yet.")
    expect(lab_page.locator(f"{NOTEBOOK} .fmq-score")).to_contain_text("Checked 1 of 3")


def test_jupyter_lab_factory_serves_under_a_base_url_and_stops_cleanly(jupyter_lab_factory, tmp_path):
    """The fixture other browser tests reuse: base_url honoured, kernels stopped, nothing leaked."""
    root = tmp_path / "root"
    root.mkdir()
    server = jupyter_lab_factory(root, base_url="/course/")
    assert server.url.endswith("/course/")
    assert server.api("GET", "api/status")["kernels"] == 0
    server.api("POST", "api/kernels", {"name": "python3"})
    assert len(server.kernel_ids()) == 1
    assert server.processes()[1:], "the kernel runs as a child of the server"

    server.stop()

    assert server.process.returncode is not None
    assert server.leftover_processes() == []
    with pytest.raises(urllib.error.URLError):
        server.api("GET", "api/status", timeout=2)

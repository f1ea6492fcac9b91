"""On a real JupyterHub, two learners answer the closing quiz differently, and the instructor's report counts both."""

import io
import json
import re

import nbformat
import pytest
from browser_fixtures import NOTEBOOK, run_all_cells, wait_for_kernel_idle
from playwright.sync_api import expect

from quiz import cli, load_bank

pytestmark = [pytest.mark.hub, pytest.mark.browser]
BANK = load_bank()
QUESTION = BANK.question("blocking")
ANSWERS = {"ana": QUESTION.answer, "ben": "server-stops"}


def quiz_notebook(home, responses):
    """The closing quiz's cell, after one that sets what an instructor sets in Spawner.environment."""
    cells = [
        # The test hub's spawner environment is fixed; a real hub sets this for every learner (INSTRUCTORS.md).
        f"import os\nos.environ['QUIZ_RESPONSES_DIR'] = {str(responses)!r}",
        "import quiz\n\nquiz.show()",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, home / "quiz.ipynb")
    settings = home / ".jupyter/lab/user-settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def test_two_learners_answer_differently_and_the_report_counts_both(hub, chromium, tmp_path):
    responses = tmp_path / "responses"
    responses.mkdir()
    for name, key in ANSWERS.items():
        quiz_notebook(hub.home(name), responses)
        context = chromium.new_context(viewport={"width": 1280, "height": 1400})
        page = context.new_page()
        try:
            page.goto(hub.url + "hub/login")
            page.get_by_label("Username").fill(name)
            page.get_by_label("Password").fill(hub.password)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(re.compile(rf"/user/{name}/lab"), timeout=90_000)
            page.goto(hub.user_url(name) + "lab/tree/quiz.ipynb?reset")
            wait_for_kernel_idle(page)
            run_all_cells(page)
            card = page.locator(f"{NOTEBOOK} .fmq-quiz .fmq-question-blocking")
            card.get_by_label(QUESTION.option(key).text).click()
            card.get_by_role("button", name="Check").click()
            expect(card.locator(".fmq-feedback")).to_contain_text("Correct!" if key == QUESTION.answer else "Not yet.")
        except Exception:
            page.screenshot(path=tmp_path / f"failure-{name}.png", full_page=True)
            raise
        finally:
            context.close()

    # Each learner's file is named by the hub's user name (JUPYTERHUB_USER), not by the Unix user.
    assert sorted(path.name for path in responses.iterdir()) == ["ana.jsonl", "ben.jsonl"]
    out, err = _report(responses, "--json")
    report = json.loads(out)
    assert report["learners"] == 2 and err == ""
    blocking = report["questions"][0]
    assert blocking["answered"] == 2 and blocking["first_try_correct"] == 1
    assert blocking["first_answers"][QUESTION.answer] == 1 and blocking["first_answers"]["server-stops"] == 1
    table, _err = _report(responses)
    print(table)  # the terminal table, for the record of the run
    assert "most chosen wrong answer: server-stops, chosen first by 1 of 2 (50%)" in table


def _report(*argv):
    """python -m quiz report in-process: (stdout, stderr), exit 0 asserted."""
    out, err = io.StringIO(), io.StringIO()
    assert cli.report_main([str(arg) for arg in argv], stdout=out, stderr=err) == 0
    return out.getvalue(), err.getvalue()

"""On a real JupyterHub, two learners answer the closing quiz differently, and the instructor's report counts both."""

import getpass
import io
import json
import shutil

import pytest
from browser_fixtures import NOTEBOOK, run_all_cells, wait_for_kernel_idle, write_notebook
from hub_fixtures import FOLDER_LEARNERS, log_in
from playwright.sync_api import expect

from quiz import cli, load_bank

pytestmark = [pytest.mark.hub, pytest.mark.browser]
QUESTION = load_bank().question("blocking")


def test_two_learners_answer_differently_and_the_report_counts_both(hub, chromium, tmp_path):
    """The folder mode on a hub: these learners get no service URL, so record into the class's folder, by hub name."""
    answers = dict(zip(FOLDER_LEARNERS, (QUESTION.answer, "server-stops"), strict=True))
    for name in answers:
        write_notebook(hub.home(name) / "quiz.ipynb", ["import quiz\n\nquiz.show()"])  # the closing quiz's cell
    hub.start_servers(list(answers))  # both at once: the hub spawns them side by side; logging in finds them up
    for name, key in answers.items():
        context = chromium.new_context(viewport={"width": 1280, "height": 1400})
        page = context.new_page()
        try:
            log_in(page, hub, name)
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
    recorded = {path.name for path in hub.responses.iterdir()}
    assert {f"{name}.jsonl" for name in answers} <= recorded and f"{getpass.getuser()}.jsonl" not in recorded, recorded
    responses = tmp_path / "responses"  # the report over these two learners: the class folder is the session's
    responses.mkdir()
    for name in answers:
        shutil.copy(hub.responses / f"{name}.jsonl", responses)
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

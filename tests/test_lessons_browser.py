"""The lessons in a real JupyterLab in Chromium: what a learner sees and clicks."""

import re

import pytest
from browser_fixtures import NOTEBOOK, open_notebook, run_all_cells
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_meet_the_sandbox_shows_the_inbox_and_its_link_opens_the_inbox_page(lab_page, jupyter_lab):
    page = lab_page
    open_notebook(page, jupyter_lab, "01-meet-the-sandbox.ipynb")
    run_all_cells(page)
    notebook = page.locator(NOTEBOOK)

    expect(notebook.locator(".jp-RenderedMermaid img").first).to_be_visible()  # the flowchart, drawn
    inbox = notebook.locator("table", has=page.locator("caption", has_text="Inbox: 1 message captured"))
    expect(inbox).to_contain_text("Hello from the sandbox")
    expect(notebook.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")).to_have_count(0)

    with page.expect_popup() as popup:
        notebook.get_by_role("link", name="Open the inbox page").click()
    inbox_page = popup.value
    inbox_page.wait_for_load_state()
    expect(inbox_page).to_have_title(re.compile("Inbox"))
    expect(inbox_page.locator("table.inbox")).to_contain_text("Hello from the sandbox")


def test_under_load_shows_progress_bars_and_the_comparison_table(lab_page, jupyter_lab):
    page = lab_page
    open_notebook(page, jupyter_lab, "06-under-load.ipynb")
    run_all_cells(page, timeout=120)
    notebook = page.locator(NOTEBOOK)

    bars = notebook.locator(".jp-OutputArea", has=page.locator(".widget-hprogress")).first
    expect(bars.locator(".widget-hprogress")).to_have_count(2)
    expect(bars).to_contain_text("24/24")
    expect(bars).to_contain_text("200/200")
    table = notebook.locator("table", has=page.locator("caption", has_text="Measured here"))
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("[X] Bad")
    expect(table).to_contain_text("[OK] Good")
    expect(notebook.locator(".jp-RenderedImage img")).to_have_count(1)  # the four distributions

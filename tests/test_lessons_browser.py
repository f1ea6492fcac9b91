"""The lessons in a real JupyterLab in Chromium: what a learner sees and clicks."""

import re

import pytest
from browser_fixtures import NOTEBOOK, open_notebook, run_all_cells, write_notebook
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
# Lesson 06's displays at test size: what the lesson measures (nbval checks its verdicts), shown as it shows them.
UNDER_LOAD_CELLS = [
    """import sandbox_app
from sandbox_app.lab import measure, measure_send, percentile_table, plot_distributions
from sandbox_app.lab.under_load import comparison_table

sandbox = sandbox_app.start(smtp_delay=0.1)
ping = measure(sandbox, "ping", n=10)
threaded = measure_send(sandbox, "threaded", n=10)
blocking = measure_send(sandbox, "blocking", n=3, warmup=0)""",
    """crowd_blocking = measure_send(sandbox, "blocking", n=8, concurrency=4, warmup=0, progress=True)
crowd_threaded = measure_send(sandbox, "threaded", n=20, concurrency=4, warmup=0, progress=True)
percentile_table(crowd_blocking, crowd_threaded)""",
    "plot_distributions(ping, blocking, threaded, crowd_threaded)",
    "comparison_table(0.1, [blocking, threaded], crowd=[crowd_blocking, crowd_threaded], clients=4)",
]


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
    write_notebook(jupyter_lab.root_dir / "under-load-displays.ipynb", UNDER_LOAD_CELLS)
    open_notebook(page, jupyter_lab, "under-load-displays.ipynb")
    run_all_cells(page)
    notebook = page.locator(NOTEBOOK)

    bars = notebook.locator(".jp-OutputArea", has=page.locator(".widget-hprogress")).first
    expect(bars.locator(".widget-hprogress")).to_have_count(2)
    expect(bars).to_contain_text("8/8")
    expect(bars).to_contain_text("20/20")
    table = notebook.locator("table", has=page.locator("caption", has_text="Measured here"))
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("[X] Bad")
    expect(table).to_contain_text("[OK] Good")
    expect(notebook.locator(".jp-RenderedImage img")).to_have_count(1)  # the four distributions

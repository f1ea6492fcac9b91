"""A real JupyterHub on loopback: a learner logs in, runs a course notebook and clicks through to the sandbox."""

import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin, urlsplit

import pytest
from browser_fixtures import NOTEBOOK, NOTEBOOKS_DIR, run_all_cells, strip_notebook_outputs, wait_for_kernel_idle
from hub_fixtures import log_in
from playwright.sync_api import expect
from sandbox_pages import SandboxPage, check_sends_and_inbox, check_stays_under

pytestmark = pytest.mark.hub
# The first lesson starts the sandbox and links to its inbox page.
COURSE_NOTEBOOK = NOTEBOOKS_DIR / "01-meet-the-sandbox.ipynb"
STATE_DIR = ".local/state/flask-mail-sandbox"  # sandbox_app.paths.state_dir() under each learner's HOME


def prepare_home(hub, name):
    """A learner's home as the course leaves it: the lesson, without its outputs."""
    assert COURSE_NOTEBOOK.exists(), "build the notebooks first: make notebooks"
    home = hub.home(name)
    shutil.copy(COURSE_NOTEBOOK, home / COURSE_NOTEBOOK.name)
    strip_notebook_outputs(home / COURSE_NOTEBOOK.name)  # every output on the page is new
    return home


@pytest.mark.browser
def test_learner_reaches_the_sandbox_from_a_notebook_through_the_hub(hub, chromium, tmp_path):
    name = "learner"
    prepare_home(hub, name)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        log_in(page, hub, name)
        page.goto(hub.user_url(name) + f"lab/tree/{COURSE_NOTEBOOK.name}?reset")
        wait_for_kernel_idle(page)
        run_all_cells(page)

        # The lesson's link goes through the hub's proxy: the kernel knows its prefix.
        link = page.locator(f"{NOTEBOOK} .jp-OutputArea a[href*='/proxy/']").first
        href = link.get_attribute("href")
        prefix = urlsplit(hub.user_url(name)).path  # the hub's base URL, then the learner's: /class/user/learner/
        match = re.fullmatch(rf"{re.escape(prefix)}proxy/(\d+)/([\w/]*)\?key=[\w-]+", href)
        assert match, href
        with page.expect_popup() as opened:
            link.click()  # the one click
        tab = opened.value
        expect(tab).to_have_url(urljoin(hub.url, href.split("?")[0]))  # the key traded for a cookie
        prefix_url = f"{hub.user_url(name)}proxy/{match.group(1)}/"
        tab.get_by_role("link", name="Inbox").click()  # the mail the lesson sent is there
        expect(tab).to_have_url(prefix_url + "inbox")
        expect(tab.locator("table.inbox tbody tr").first).to_be_visible()

        sandbox = SandboxPage(tab, prefix_url).open()  # the / page; every request from now on is recorded
        check_sends_and_inbox(sandbox, prefix_url)
        check_stays_under(sandbox, prefix_url)

        # The launcher's sandbox, through the hub too: one click on "Mail sandbox".
        page.goto(hub.user_url(name) + "lab?reset")
        with page.expect_popup() as opened:
            page.locator(".jp-LauncherCard", has_text="Mail sandbox").click()
        launcher_url = hub.user_url(name) + "sandbox/"
        expect(opened.value).to_have_url(launcher_url)
        launched = SandboxPage(opened.value, launcher_url).open()
        check_sends_and_inbox(launched, launcher_url)
        check_stays_under(launched, launcher_url)
    except Exception:
        page.screenshot(path=tmp_path / "failure.png", full_page=True)
        print(f"screenshot of the failure: {tmp_path / 'failure.png'}")
        raise
    finally:
        context.close()


def test_learners_on_one_machine_get_sandboxes_of_their_own(hub):
    names = ["amy", "bob"]
    tokens = hub.start_learners(names)

    def call(name, method, path, body=None):
        status, reply = hub.request(
            method, hub.user_url(name) + "sandbox/" + path, body, token=tokens[name], timeout=60
        )
        assert status < 300, f"{name}: {method} {path}: {status} {reply}"
        return reply

    # Both open the launcher's sandbox at once; each gets their own app and mail server.
    with ThreadPoolExecutor(len(names)) as pool:
        smtp = dict(zip(names, pool.map(lambda name: call(name, "GET", "api/smtp"), names), strict=True))
    assert smtp["amy"]["address"] != smtp["bob"]["address"]
    call("amy", "POST", "send/blocking", {"to": "amy@example.com", "subject": "from amy", "body": "hi"})
    assert [m["subject"] for m in call("amy", "GET", "api/messages")["messages"]] == ["from amy"]
    assert call("bob", "GET", "api/messages")["count"] == 0

    # Each sandbox keeps its state in its learner's own folder, in a file named by its port.
    logs = {name: sorted((hub.homes / name / STATE_DIR / "logs").glob("sandbox-*.log")) for name in names}
    assert all(len(found) == 1 for found in logs.values()), logs
    assert logs["amy"][0].name != logs["bob"][0].name  # two app ports

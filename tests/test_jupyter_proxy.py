"""Behind jupyter-server-proxy: the launcher entry, and every link kept under the proxy's prefix."""

import json
import sys
from html.parser import HTMLParser
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from browser_fixtures import LAB_BASE_URL
from helpers import EMAIL, eventually
from jupyter_server_proxy.config import ServerProcess
from playwright.sync_api import expect
from sandbox_pages import SandboxPage, check_sends_and_inbox, check_stays_under

from sandbox_app import jupyter_proxy


class PageURLs(HTMLParser):
    """Every URL in a page: links, assets, the send buttons' data-url, the script's config."""

    ATTRIBUTES = {"href", "src", "action", "data-url"}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_config = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [value for name, value in attrs.items() if name in self.ATTRIBUTES]
        self._in_config = attrs.get("id") == "sandbox-config"

    def handle_data(self, data):
        if self._in_config:
            self.urls += json.loads(data).values()
            self._in_config = False


def page_urls(response) -> list[str]:
    """The URLs in an HTML response."""
    parser = PageURLs()
    parser.feed(response.get_data(as_text=True))
    return parser.urls


# --- without a browser: the entry point and the app's URLs -------------------------------------


def test_entry_point_gives_jupyter_server_proxy_a_launcher_entry():
    (entry,) = [e for e in entry_points(group="jupyter_serverproxy_servers") if e.name == "sandbox"]
    config = entry.load()()
    assert entry.load() is jupyter_proxy.setup_sandbox
    # jupyter-server-proxy builds its server from this; a bad key or type fails here.
    process = ServerProcess(name=entry.name, **config)
    assert process.launcher_entry.title == "Mail sandbox"
    assert process.launcher_entry.path_info == "sandbox/"  # served at {base_url}sandbox/
    assert Path(process.launcher_entry.icon_path).is_file()
    command = process.command
    assert command[:3] == [sys.executable, "-m", "sandbox_app"]
    assert command[command.index("--port") + 1] == "{port}"  # the free port the proxy picked


@pytest.mark.parametrize("prefix", ["", "/user/learner/proxy/5000", "/user/learner/sandbox"])
@pytest.mark.parametrize("path", ["/", "/inbox"])
def test_every_url_on_the_pages_stays_under_the_forwarded_prefix(client, mail_server, prefix, path):
    client.post("/send/blocking", json=EMAIL)  # the inbox has a row to show
    response = client.get(path, headers={"X-Forwarded-Prefix": prefix} if prefix else {})
    assert response.status_code == 200
    urls = page_urls(response)
    assert len(urls) >= 4  # icon, stylesheet, two nav links at least
    assert [url for url in urls if not url.startswith(prefix + "/")] == []


def test_a_notebook_shows_the_sandbox_as_a_link_through_the_hub(sandbox, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/learner/")
    assert f'href="/user/learner/proxy/{sandbox.port}/?key={sandbox.key}"' in sandbox._repr_html_()
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX")
    assert f'href="http://127.0.0.1:{sandbox.port}/?key={sandbox.key}"' in sandbox._repr_html_()  # on a laptop


def test_page_script_takes_every_url_from_the_page():
    script = (Path(jupyter_proxy.__file__).parent / "web" / "static" / "sandbox.js").read_text()
    # An absolute path in the script ("/send/..", "/api/..") would escape the prefix.
    for route in ('"/send', '"/api', '"/ping', '"/inbox', "'/", "`/"):
        assert route not in script


# --- a real jupyter server with jupyter-server-proxy, in Chromium --------------------------------
# The session's JupyterLab serves under LAB_BASE_URL, as on a hub; at the end of the session it must stop cleanly,
# the launcher's sandbox a test opened with it (SIGTERM from jupyter-server-proxy): browser_fixtures.jupyter_lab.


@pytest.fixture(scope="module")
def lab(jupyter_lab):
    """The session's JupyterLab, under a learner's prefix."""
    assert jupyter_lab.base_url == LAB_BASE_URL
    return jupyter_lab


@pytest.fixture(scope="module")
def lab_context(chromium, lab):
    """A browser context logged in to the lab (its token sets the cookie, as a learner's login does)."""
    with chromium.new_context(viewport={"width": 1280, "height": 900}) as context:  # closed if the login fails too
        page = context.new_page()
        page.goto(lab.lab_url())
        expect(page.locator(".jp-LauncherCard", has_text="Mail sandbox")).to_be_visible(timeout=60_000)
        page.close()
        yield context


@pytest.fixture
def page(lab_context):
    """A new tab, closed once its requests are done (before any sandbox the test used stops)."""
    page = lab_context.new_page()
    yield page
    page.wait_for_load_state("networkidle")  # e.g. the icon, which Chromium asks for late
    page.close()


@pytest.mark.browser
def test_launcher_opens_the_sandbox_at_base_url_sandbox(lab, page):
    page.goto(lab.lab_url())
    card = page.locator(".jp-LauncherCard", has_text="Mail sandbox")
    with page.expect_popup() as opened:
        card.click()
    eventually(lambda: "Mail sandbox running" in lab.log())  # jupyter-server-proxy started it, as the server's child
    prefix_url = lab.url + "sandbox/"
    tab = opened.value
    expect(tab).to_have_url(prefix_url)
    expect(tab.get_by_role("heading", name="Send a mail, time the response")).to_be_visible()
    sandbox_page = SandboxPage(tab, prefix_url).open()
    assert sandbox_page.delay_shown() == jupyter_proxy.LAUNCHER_SMTP_DELAY
    check_sends_and_inbox(sandbox_page, prefix_url)
    check_stays_under(sandbox_page, prefix_url)
    tab.wait_for_load_state("networkidle")
    tab.close()


@pytest.mark.browser
def test_sandbox_started_in_python_works_under_proxy_port(lab, sandbox, page):
    sandbox.mail_server.configure(delay=0.3)
    prefix_url = f"{lab.url}proxy/{sandbox.port}/"
    page.goto(f"{prefix_url}?key={sandbox.key}")  # the link a lesson shows: the key once, then a cookie
    sandbox_page = SandboxPage(page, prefix_url).open()
    check_sends_and_inbox(sandbox_page, prefix_url)
    check_stays_under(sandbox_page, prefix_url)
    # The page's sends reached this very sandbox, through the proxy.
    assert sandbox.stats.snapshot()["blocking"]["delivered"] == 1

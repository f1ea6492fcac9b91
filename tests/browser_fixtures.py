"""Pytest plugin: a real Chromium (Playwright) and real JupyterLab servers for browser tests.

Enable it with ``pytest_plugins = ["browser_fixtures"]`` in conftest.py. Fixtures:

- ``chromium`` (session): a headless Playwright ``Browser`` running the Chromium ``helpers.find_chromium``
  finds ($CHROMIUM_PATH, one on the PATH, or Playwright's own); without one the tests are skipped.
- ``jupyter_lab_factory`` (session): ``start(root_dir=None, *, base_url="/", extra_args=(), environment={})``
  starts a JupyterLab and returns a ``LabServer``; every one is stopped at the end. The
  default root_dir is a temporary copy of ``notebooks/`` without outputs, so everything a
  test sees on the page was produced by its own run. Its environment is built, never copied
  from the test that asked (``server_environment``), plus ``environment``.
- ``jupyter_lab`` (session): the server the session's browser tests share, at ``LAB_BASE_URL`` as on a hub,
  recording quiz answers as an instructor's ``Spawner.environment`` does (``recorded_answers``); at the
  end it must stop cleanly: no process killed, no traceback in its log.
- ``lab_page`` (function): a fresh page in its own browser context; kernels it started
  are shut down afterwards, and a screenshot is kept in tmp_path if the test fails.

Helpers for JupyterLab (and Notebook 7) pages: ``open_notebook``, ``run_all_cells``,
``wait_for_kernel_idle``; ``write_notebook`` for a notebook made for a test. The ``chromium`` fixture raises Playwright's ``expect`` timeout to
``EXPECT_TIMEOUT_MS`` for the whole session (kernel round trips on a loaded machine).
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import nbformat
import psutil
import pytest
from helpers import find_chromium, free_port, start_on_free_port
from server_environment import server_environment

from sandbox_app.processes.child import ChildProcess

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
# Headless in a container as root: no sandbox, no GPU, and nothing phoning home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EXPECT_TIMEOUT_MS = 20_000
# The open notebook's panel: JupyterLab keeps other tabs in the DOM, hidden.
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
# The session's JupyterLab serves under a learner's prefix, as on a hub: nothing may work by assuming the root.
LAB_BASE_URL = "/user/learner/"
LAB_LEARNER = "learner-in-the-browser"  # QUIZ_LEARNER of the session's JupyterLab


# --- JupyterLab servers --------------------------------------------------------------------


class LabServer(ChildProcess):
    """A JupyterLab (`python -m jupyter lab`) on a free loopback port with a random token; its API; `stop()`."""

    def __init__(
        self, root_dir: Path, state_dir: Path, base_url: str = "/", extra_args=(), environment: dict | None = None
    ) -> None:
        if not base_url.startswith("/") or not base_url.endswith("/"):
            raise ValueError(f"base_url must start and end with '/', not {base_url!r}")
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.root_dir, self.base_url = Path(root_dir), base_url
        command = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            "--allow-root",  # CI runs as root; jupyter refuses without it
            f"--ServerApp.token={self.token}", f"--port={self.port}",
            "--ServerApp.port_retries=0",  # a taken port must fail, not move silently
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root_dir}", f"--ServerApp.base_url={base_url}",
            *extra_args,
        ]  # fmt: skip
        log_path = state_dir / f"jupyter-lab-{self.port}.log"
        env = lab_environment(state_dir, environment or {})
        super().__init__(command, log_path, what="JupyterLab", env=env, startup_timeout=60)

    @property
    def url(self) -> str:
        """The server's root URL, base_url included, ending in '/' (no token)."""
        return f"http://127.0.0.1:{self.port}{self.base_url}"

    def lab_url(self, path: str = "") -> str:
        """The URL that opens path (relative to root_dir) in JupyterLab, logged in."""
        # ?reset: start from an empty workspace, whatever an earlier page left open.
        target = f"lab/tree/{quote(path)}" if path else "lab"
        return f"{self.url}{target}?reset&token={self.token}"

    def notebook_url(self, path: str) -> str:
        """The URL that opens a notebook in the classic Notebook 7 interface, logged in."""
        return f"{self.url}notebooks/{quote(path)}?token={self.token}"

    def api(self, method: str, path: str, body: dict | None = None, timeout: float = 10):
        """Call the REST API (path like 'api/kernels'); the parsed JSON reply, or None."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def is_ready(self) -> bool:
        """The REST API answers."""
        try:
            self.api("GET", "api/status", timeout=2)
            return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def kernel_ids(self) -> set[str]:
        """The ids of the kernels running now."""
        return {kernel["id"] for kernel in self.api("GET", "api/kernels")}

    def shutdown_kernels(self, keep: set[str] = frozenset()) -> None:
        """Shut down every kernel except those in keep (and forget their sessions)."""
        for session in self.api("GET", "api/sessions"):
            if session["kernel"]["id"] not in keep:
                self.api("DELETE", f"api/sessions/{session['id']}")
        for kernel_id in self.kernel_ids() - set(keep):
            self.api("DELETE", f"api/kernels/{kernel_id}")

    def log(self) -> str:
        """What the server printed so far."""
        return self.read_log()

    def stop(self, timeout: float = 20) -> int | None:
        """Stop the server (SIGTERM: it shuts down its kernels and the servers it proxies); kill what is left after timeout.

        What it started gets the whole timeout to end with it, not only the server: on a busy machine a launcher's
        sandbox and its queue consumer take seconds to finish after the server has gone.
        """
        if self.running:
            family = self.processes()
            self.send_signal(signal.SIGTERM)
            psutil.wait_procs(family, timeout=timeout)
        return super().stop(timeout=0)  # kills, and lists in `killed`, only what is still running

    def leftover_processes(self) -> list[int]:
        """After stop(): the pids of the server and its kernels that did not end by themselves (should be none).

        stop() kills them, so none is left running whatever this says: it tells whether they had to be.
        """
        return self.killed


def lab_environment(state_dir: Path, environment: dict[str, str]) -> dict[str, str]:
    """The environment of a test's JupyterLab: built (never a test's), its settings and files its own, plus environment."""
    env = server_environment(state_dir, **environment)
    env["JUPYTERLAB_SETTINGS_DIR"] = str(state_dir / "lab-settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(state_dir / "lab-workspaces")
    # No "get notified about Jupyter news?" pop-up over the page under test, no update checks.
    notification = (
        state_dir / "lab-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    )
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return env


def start_lab(
    root_dir: Path, state_dir: Path, *, base_url: str = "/", extra_args: tuple[str, ...] = (), environment=None
) -> LabServer:
    """Start JupyterLab on a free loopback port with a random token; wait until its API answers."""
    return start_on_free_port(
        lambda: LabServer(Path(root_dir), Path(state_dir), base_url, extra_args, environment), "already in use"
    )


def copy_notebooks(target: Path, strip_outputs: bool = False) -> Path:
    """Copy notebooks/ to target (optionally without outputs, so every output on the page is new)."""
    shutil.copytree(NOTEBOOKS_DIR, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    if strip_outputs:
        for path in target.glob("*.ipynb"):
            strip_notebook_outputs(path)
    return target


def write_notebook(path: Path, cells: list[str]) -> Path:
    """Write a notebook of these code cells (no outputs) for the python3 kernel; its path."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def strip_notebook_outputs(path: Path) -> None:
    """Remove outputs, execution counts and saved widget state from a notebook file."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)


# --- JupyterLab pages ----------------------------------------------------------------------


def open_notebook(page, server: LabServer, path: str, *, ui: str = "lab", timeout: float = 60) -> None:
    """Open a notebook in JupyterLab (ui="lab") or Notebook 7 (ui="notebook"); wait for an idle kernel."""
    urls = {"lab": server.lab_url, "notebook": server.notebook_url}
    page.goto(urls[ui](path))
    page.wait_for_selector(f"{NOTEBOOK} .jp-Notebook", timeout=timeout * 1000)
    wait_for_kernel_idle(page, timeout)


def wait_for_kernel_idle(page, timeout: float = 60) -> None:
    """Wait until the open notebook has a kernel and that kernel is idle."""
    # The execution indicator says "idle" before any kernel exists; the kernel name says
    # "No Kernel" until one is attached. Running cells before both are right opens a
    # "Select Kernel" dialog instead.
    page.wait_for_function(
        """panel => {
            const root = document.querySelector(panel);
            const status = root && root.querySelector('.jp-Notebook-ExecutionIndicator');
            const name = root && root.querySelector('[data-jp-item-name="kernelName"]');
            return Boolean(status && name && status.dataset.status === 'idle'
                           && name.textContent.trim() && name.textContent.trim() !== 'No Kernel');
        }""",
        arg=NOTEBOOK,
        timeout=timeout * 1000,
    )


# Prompt numbers of the open notebook's code cells (null for "[ ]:" and "[*]:").
_PROMPTS_JS = """selector => [...document.querySelectorAll(selector)].map(p => {
    const match = /\\[(\\d+)\\]/.exec(p.textContent);
    return p.textContent.includes('*') ? '*' : (match ? Number(match[1]) : null);
})"""


def run_all_cells(page, timeout: float = 60) -> None:
    """Run all cells from the Run menu, as a learner does; fail with the error if one raised."""
    prompts = f"{NOTEBOOK} .jp-CodeCell .jp-InputArea-prompt"
    before = [n for n in page.evaluate(_PROMPTS_JS, prompts) if isinstance(n, int)]
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    # Done when nothing is queued ("[*]") and every cell has a number newer than before the
    # click; "stopped" when a cell raised, as Run All leaves the cells after it unrun.
    outcome = page.wait_for_function(
        f"""([selector, baseline]) => {{
            const numbers = ({_PROMPTS_JS})(selector);
            if (numbers.length === 0 || numbers.includes('*')) return false;
            const ran = numbers.filter(n => typeof n === 'number' && n > baseline).length;
            return ran === numbers.length ? 'done' : (ran > 0 ? 'stopped' : false);
        }}""",
        arg=[prompts, max(before, default=0)],
        timeout=timeout * 1000,
    ).json_value()
    if outcome != "done":
        outputs = page.locator(f"{NOTEBOOK} .jp-OutputArea-output").all_inner_texts()
        raise AssertionError("Run All stopped at a cell that raised:\n" + "\n".join(outputs)[-3000:])
    wait_for_kernel_idle(page, timeout)


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium driven by Playwright, shared by the session (skipped if the machine has none)."""
    from playwright.sync_api import expect, sync_playwright

    # Each check on a widget waits for a kernel round trip; on a busy 2-core CI machine
    # that can pass Playwright's 5 s default. Only failing tests wait longer.
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        executable = find_chromium(playwright.chromium)
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def jupyter_lab_factory(tmp_path_factory):
    """start(root_dir=None, *, base_url='/', extra_args=()) -> LabServer; all stopped at session end."""
    servers: list[LabServer] = []

    def start(root_dir: Path | None = None, **options) -> LabServer:
        if root_dir is None:
            root_dir = copy_notebooks(tmp_path_factory.mktemp("notebooks"), strip_outputs=True)
        server = start_lab(root_dir, tmp_path_factory.mktemp("jupyter-state"), **options)
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture(scope="session")
def jupyter_lab(jupyter_lab_factory, tmp_path_factory):
    """A JupyterLab on a temporary copy of notebooks/ without outputs, shared by the session; it must stop cleanly."""
    responses = tmp_path_factory.mktemp("lab-responses")
    server = jupyter_lab_factory(
        base_url=LAB_BASE_URL, environment={"QUIZ_RESPONSES_DIR": str(responses), "QUIZ_LEARNER": LAB_LEARNER}
    )
    yield server
    server.stop()
    assert server.leftover_processes() == [], "killed: the server or a kernel did not stop by itself"
    log = server.log()
    # A browser that closed a tab while the server wrote to its websocket: tornado logs that with a traceback.
    tracebacks = log.count("Traceback") - 2 * log.count("tornado.websocket.WebSocketClosedError")
    assert tracebacks <= 0, log[-3000:]
    # jupyter-server-proxy stops a launcher's sandbox (tests/test_jupyter_proxy.py) with SIGTERM: a clean finish.
    assert "Mail sandbox running" not in log or "Stopped." in log, log[-3000:]


def recorded_answers(server: LabServer) -> list[dict]:
    """The quiz answers the server's kernels recorded so far (QUIZ_RESPONSES_DIR, QUIZ_LEARNER), oldest first."""
    path = Path(server.env["QUIZ_RESPONSES_DIR"]) / f"{server.env['QUIZ_LEARNER']}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the test item, so fixtures can see a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def lab_page(chromium, jupyter_lab, request, tmp_path):
    """A new page in its own browser context; shuts down the kernels it started afterwards."""
    kernels_before = jupyter_lab.kernel_ids()
    context = chromium.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = context.new_page()
        yield page
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            shot = tmp_path / "failure.png"
            page.screenshot(path=shot, full_page=True)
            print(f"screenshot of the failure: {shot}")
    finally:  # closed, and its kernels shut down, even when the screenshot fails
        context.close()
        jupyter_lab.shutdown_kernels(keep=kernels_before)

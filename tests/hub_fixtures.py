"""A real JupyterHub on loopback: DummyAuthenticator, SimpleLocalProcessSpawner, configurable-http-proxy.

`start_hub(root)` returns a running `Hub`; `Hub.stop()` ends it with every process it started.
Learners are the hub's users; each gets a home folder of their own under `root/homes/`. The hub is configured with
everything the hub tests need: its learners' servers record quiz answers into `Hub.responses`, as an instructor's
`Spawner.environment` does (INSTRUCTORS.md). Its environment, and its learners', is built, never a test's.

The session starts one hub (`session_hub`, skipped with the reason where npm never installed the proxy); the
`hub` fixture gives it to a test and stops every learner's server the test started once it ends. A test picks
learner names no other test uses: a learner's home keeps what their earlier server left. The hub tests live in
files named `tests/test_hub_*.py`, which `make test` runs on one worker (tests/scheduling.py): one hub per run.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import sys
import urllib.error
import urllib.request
from contextlib import suppress
from pathlib import Path

import psutil
import pytest
from helpers import free_port, missing, start_on_free_port
from server_environment import server_environment

from sandbox_app.processes.child import ChildProcess
from sandbox_app.waiting import wait_until

# configurable-http-proxy, the hub's proxy, is a Node program: tools/install_test_deps.sh installs it with npm.
CHP_COMMAND = "configurable-http-proxy"
SINGLEUSER = str(Path(sys.executable).with_name("jupyterhub-singleuser"))
NEWS_SETTINGS = ".jupyter/lab/user-settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"

HUB_CONFIG = """\
c = get_config()  # noqa: F821
c.JupyterHub.bind_url = "http://127.0.0.1:{port}/"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}/"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.ConfigurableHTTPProxy.pid_file = {state!r} + "/proxy.pid"
c.JupyterHub.db_url = "sqlite:///" + {state!r} + "/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = {state!r} + "/cookie_secret"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allow_all = True
# The test's own access: a service whose token may create users, start servers, make tokens.
c.JupyterHub.services = [{{"name": "course-test", "api_token": {api_token!r}}}]
c.JupyterHub.load_roles = [{{
    "name": "course-test",
    "services": ["course-test"],
    "scopes": ["admin:users", "admin:servers", "tokens", "access:servers"],
}}]
# Every learner runs as this Unix user, in a home folder of their own (as HOME).
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {homes!r} + "/{{username}}"
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.args = ["--allow-root"]  # CI runs as root
c.Spawner.ip = "127.0.0.1"
c.Spawner.default_url = "/lab"
c.Spawner.environment = {environment!r}
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90
"""


class HubError(RuntimeError):
    """The hub did not do what was asked, with its log."""


class Hub(ChildProcess):
    """A JupyterHub (`python -m jupyterhub`) on free loopback ports: its API, the learners' homes, `stop()`."""

    def __init__(self, root: Path, chp: str) -> None:
        state = root / f"hub-{secrets.token_hex(4)}"
        self.homes, self.responses = root / "homes", root / "responses"
        state.mkdir(parents=True)
        self.homes.mkdir(exist_ok=True)
        self.responses.mkdir(exist_ok=True)
        env = server_environment(state / "env")
        # The learners' servers get JupyterHub's own few variables (PATH, PYTHONPATH, LANG...) and these: the
        # class's answers folder, and the run's token and no-Redis switch, as this process has them.
        learners_env = {name: env[name] for name in ("PATH", "SANDBOX_TEST_RUN", "SANDBOX_NO_REDIS") if name in env}
        learners_env["QUIZ_RESPONSES_DIR"] = str(self.responses)
        self.own_pids: set[int] = set()  # the hub's and its proxy's, once it answers
        self.port, self.api_token, self.password = free_port(), secrets.token_hex(16), secrets.token_hex(8)
        config = state / "jupyterhub_config.py"
        config.write_text(
            HUB_CONFIG.format(
                port=self.port, hub_port=free_port(), proxy_api_port=free_port(), chp=chp, state=str(state),
                password=self.password, api_token=self.api_token, homes=str(self.homes), singleuser=SINGLEUSER,
                environment=learners_env,
            )
        )  # fmt: skip
        command = [sys.executable, "-m", "jupyterhub", "-f", config]
        super().__init__(command, state / "jupyterhub.log", what="JupyterHub", env=env, cwd=state, startup_timeout=60)

    @property
    def url(self) -> str:
        """The hub's public URL (its proxy), ending in '/'."""
        return f"http://127.0.0.1:{self.port}/"

    def user_url(self, name: str) -> str:
        """The learner's server URL (what JUPYTERHUB_SERVICE_PREFIX says inside it)."""
        return f"{self.url}user/{name}/"

    def home(self, name: str) -> Path:
        """The learner's home folder, created on first use as the course leaves it: no news pop-up over JupyterLab."""
        path = self.homes / name
        settings = path / NEWS_SETTINGS
        if not settings.exists():
            settings.parent.mkdir(parents=True, exist_ok=True)
            settings.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        return path

    def log(self) -> str:
        """What the hub, its proxy and the learners' servers printed so far."""
        return self.read_log()

    def is_ready(self) -> bool:
        """The hub's API answers (and its proxy runs)."""
        try:
            status, _ = self.request("GET", f"{self.url}hub/api/", timeout=2)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
        if status == 200:
            self.own_pids = {member.pid for member in self.processes()}  # the hub and its proxy
        return status == 200

    def request(self, method: str, url: str, body: dict | None = None, token: str | None = None, timeout=20):
        """An HTTP request with a token; (status, parsed JSON or text)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            url,
            data=data,
            method=method,
            headers={"Authorization": f"token {token or self.api_token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        text = payload.decode(errors="replace")
        try:
            return status, json.loads(text) if text else None
        except json.JSONDecodeError:
            return status, text

    def api(self, method: str, path: str, body: dict | None = None):
        """Call the hub's REST API (path like 'users/ana'); the parsed reply, or HubError."""
        status, reply = self.request(method, f"{self.url}hub/api/{path}", body)
        if status >= 400:
            raise HubError(f"{method} hub/api/{path}: {status} {reply}\n{self.log()[-3000:]}")
        return reply

    def start_servers(self, names: list[str], timeout: float = 90) -> None:
        """Create these learners if needed and start their servers together; wait until all are ready."""
        for name in names:
            if self.request("GET", f"{self.url}hub/api/users/{name}")[0] == 404:
                self.api("POST", f"users/{name}")
            self.api("POST", f"users/{name}/server")

        def waiting() -> list[str]:
            return [n for n in names if not self.api("GET", f"users/{n}")["servers"].get("", {}).get("ready")]

        try:
            wait_until(lambda: not waiting(), timeout, "the learners' servers", interval=0.2)
        except TimeoutError:
            raise HubError(f"servers not ready within {timeout:.0f} s: {waiting()}\n{self.log()[-3000:]}") from None
        self.processes()  # note the learners' servers: they run in sessions of their own

    def start_learners(self, names: list[str]) -> dict[str, str]:
        """Give each learner a home and a running server; their API tokens, by name."""
        for name in names:
            self.home(name)
        self.start_servers(names)
        return {name: self.user_token(name) for name in names}

    def user_token(self, name: str) -> str:
        """A new API token of the learner's (it reaches their server, as their browser cookie does)."""
        return self.api("POST", f"users/{name}/tokens", {"expires_in": 600, "note": "course test"})["token"]

    def running_servers(self) -> list[str]:
        """The learners whose server runs, or is starting or stopping."""
        return [user["name"] for user in self.api("GET", "users") if user.get("servers")]

    def stop_servers(self, timeout: float = 60) -> list[int]:
        """Stop every learner's server (its kernels and sandboxes with it); the pids that had to be killed (none)."""
        self.processes()  # note what the servers started while it is still their descendant
        for name in self.running_servers():
            self.api("DELETE", f"users/{name}/server")
        try:
            wait_until(lambda: not self.running_servers(), timeout, "the learners' servers to stop", interval=0.2)
        except TimeoutError:
            raise HubError(
                f"still running after {timeout:.0f} s: {self.running_servers()}\n{self.log()[-3000:]}"
            ) from None
        left = [member for member in self.processes() if member.pid not in self.own_pids]
        _gone, alive = psutil.wait_procs(left, timeout=10)  # a kernel ends itself once it sees its server gone
        for member in alive:
            with suppress(psutil.NoSuchProcess):
                member.kill()
        return [member.pid for member in alive]

    def stop(self, timeout: float = 30) -> list[int]:
        """Stop the hub (it stops the servers and the proxy); the pids of any process that had to be killed."""
        self.processes()  # the learners' servers and kernels, while they are still its descendants
        super().stop(timeout)
        return self.killed


def log_in(page, hub: Hub, name: str) -> None:
    """Log in on the hub's page in a browser, as a learner does; wait until their JupyterLab is up."""
    from playwright.sync_api import expect

    page.goto(hub.url + "hub/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(hub.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"/user/{name}/lab"), timeout=90_000)


def configurable_http_proxy() -> str | None:
    """The path of configurable-http-proxy, or None if npm never installed it."""
    return shutil.which(CHP_COMMAND)


def start_hub(root: Path) -> Hub:
    """Start a JupyterHub under root (state, homes, log) on free loopback ports; wait until it answers."""
    chp = configurable_http_proxy()
    if chp is None:
        raise HubError("configurable-http-proxy is not installed: npm install -g configurable-http-proxy")
    return start_on_free_port(lambda: Hub(root, chp), "address already in use")


@pytest.fixture(scope="session")
def session_hub(tmp_path_factory):
    """The session's JupyterHub; stopped at the end with every process it started."""
    if configurable_http_proxy() is None:
        missing(
            "configurable-http-proxy (the hub's proxy, from npm) is not installed",
            "npm install -g configurable-http-proxy (`make test` does, as root)",
        )
    hub = start_hub(tmp_path_factory.mktemp("jupyterhub"))
    yield hub
    killed = hub.stop()
    assert killed == [], f"processes still running after the hub stopped: {killed}"


@pytest.fixture
def hub(session_hub):
    """The session's hub for this test; the learners' servers it started are stopped after it, with all they started."""
    yield session_hub
    killed = session_hub.stop_servers()
    assert killed == [], f"processes still running after the learners' servers stopped: {killed}"

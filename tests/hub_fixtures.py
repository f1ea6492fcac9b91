"""A real JupyterHub on loopback with the course service: DummyAuthenticator, SimpleLocalProcessSpawner, configurable-http-proxy.

`start_hub(root)` returns a running `Hub`; `Hub.stop()` ends it with every process it started.
Learners are the hub's users; each gets a home folder of their own under `root/homes/`. The hub runs under a base
URL (/class/), as many hubs do, and its config ends with `quiz.service.hub_config.configure` as INSTRUCTORS.md gives
it for a service run beside the hub (`managed=False`, registered by URL with its own token, as on Zero to
JupyterHub): the fixture, not the hub, runs the course service (`Hub.service`), so a test can end it and start it
again at once instead of waiting for the hub's next poll (30 s). Every learner's kernel records to it; the
FOLDER_LEARNERS' kernels record into the class's folder (`Hub.responses`) instead, as on a hub without the
service. Its environment, and its learners', is built, never a test's.

The session starts one hub (`session_hub`, skipped with the reason where npm never installed the proxy); the
`hub` fixture gives it to a test and stops every learner's server the test started once it ends. A test picks
learner names no other test uses: a learner's home keeps what their earlier server left, and the course service
what they answered. The hub tests live in files named `tests/test_hub_*.py`, which `make test` runs on one worker
(tests/scheduling.py): one hub per run.
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

from quiz.service import hub_config
from sandbox_app.processes.child import ChildProcess
from sandbox_app.waiting import wait_until

# configurable-http-proxy, the hub's proxy, is a Node program: tools/install_test_deps.sh installs it with npm.
CHP_COMMAND = "configurable-http-proxy"
SINGLEUSER = str(Path(sys.executable).with_name("jupyterhub-singleuser"))
NEWS_SETTINGS = ".jupyter/lab/user-settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
BASE_URL = "/class/"  # under a base URL, as many hubs are: the service's prefix, its login and its links follow it
INSTRUCTOR = "tess"  # in the instructors group: reads the class
FOLDER_LEARNERS = ("eve", "finn")  # their kernels record into the class's folder (tests/test_hub_quiz.py)

HUB_CONFIG = """\
c = get_config()  # noqa: F821
c.JupyterHub.bind_url = "http://127.0.0.1:{port}{base_url}"
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
# The API's start and stop of a server answer at once (202) and the tests poll for the outcome: otherwise each
# call waits up to 10 s for its server, and a class's servers start (and stop) one after another.
c.JupyterHub.tornado_settings = {{"slow_spawn_timeout": 0, "slow_stop_timeout": 0}}
# The course service as INSTRUCTORS.md registers one run beside the hub: by its URL, with its own token.
from quiz.service import hub_config
hub_config.configure(
    c, data_dir={service_data!r}, url={service_address!r}, kernel_url={service_url!r}, instructors=[{instructor!r}],
    managed=False, api_token={service_token!r},
)
# The folder mode on the same hub: these learners' kernels are given no service, so they record into the folder.
_kernel_url = c.Spawner.environment["QUIZ_SERVICE_URL"]
c.Spawner.environment["QUIZ_SERVICE_URL"] = lambda spawner: "" if spawner.user.name in {folder_learners!r} else _kernel_url
"""


class HubError(RuntimeError):
    """The hub did not do what was asked, with its log."""


class Hub(ChildProcess):
    """A JupyterHub (`python -m jupyterhub`) on free loopback ports: its API, the learners' homes, `stop()`."""

    def __init__(self, root: Path, chp: str) -> None:
        state = root / f"hub-{secrets.token_hex(4)}"
        self.homes, self.responses = root / "homes", root / "responses"
        self.service_data = root / f"course-service-{secrets.token_hex(4)}"  # the service's own folder: its database
        state.mkdir(parents=True)
        self.homes.mkdir(exist_ok=True)
        self.responses.mkdir(exist_ok=True)
        env = server_environment(state / "env")
        # The learners' servers get JupyterHub's own few variables (PATH, PYTHONPATH, LANG...) and these: the
        # class's answers folder, and the run's token and no-Redis switch, as this process has them.
        learners_env = {name: env[name] for name in ("PATH", "SANDBOX_TEST_RUN", "SANDBOX_NO_REDIS") if name in env}
        learners_env["QUIZ_RESPONSES_DIR"] = str(self.responses)
        self.own_pids: set[int] = set()  # the hub's and its proxy's, once it answers
        self.port, self.hub_port, self.service_port = free_port(), free_port(), free_port()
        self.api_token, self.password = secrets.token_hex(16), secrets.token_hex(8)
        self.service_token = secrets.token_hex(32)  # the service's own, as the hub's config registers it
        self.service = CourseService(self, state)
        config = state / "jupyterhub_config.py"
        config.write_text(
            HUB_CONFIG.format(
                port=self.port, hub_port=self.hub_port, proxy_api_port=free_port(), chp=chp, state=str(state),
                password=self.password, api_token=self.api_token, homes=str(self.homes), singleuser=SINGLEUSER,
                environment=learners_env, base_url=BASE_URL, service_data=str(self.service_data),
                service_address=self.service_address, service_url=self.service_url, instructor=INSTRUCTOR,
                folder_learners=FOLDER_LEARNERS, service_token=self.service_token,
            )
        )  # fmt: skip
        command = [sys.executable, "-m", "jupyterhub", "-f", config]
        super().__init__(command, state / "jupyterhub.log", what="JupyterHub", env=env, cwd=state, startup_timeout=60)

    @property
    def url(self) -> str:
        """The hub's public URL (its proxy) with its base URL, ending in '/'."""
        return f"http://127.0.0.1:{self.port}{BASE_URL}"

    @property
    def service_address(self) -> str:
        """Where the course service listens (only the proxy calls it there)."""
        return f"http://127.0.0.1:{self.service_port}"

    @property
    def api_url(self) -> str:
        """The hub's own API, where the service checks tokens (JupyterHub puts the base URL before hub/)."""
        return f"http://127.0.0.1:{self.hub_port}{BASE_URL}hub/api"

    @property
    def service_url(self) -> str:
        """The course service through the hub's proxy: QUIZ_SERVICE_URL, what kernels and browsers use."""
        return f"{self.url}services/{hub_config.SERVICE_NAME}/"

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

    def start(self, timeout: float | None = None) -> Hub:
        """Start the course service, then the hub: it waits at its start for a service registered by URL to answer."""
        self.service.start()
        try:
            super().start(timeout)
        except BaseException:
            self.service.stop()
            raise
        return self

    def read_log(self) -> str:
        """What the hub, its proxy and the learners' servers printed so far, then what the course service printed."""
        return f"{super().read_log()}\n--- the course service ---\n{self.service.read_log()}"

    def log(self) -> str:
        """What the hub, its proxy, the learners' servers and the course service printed so far."""
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
        self.ask_for_servers(names)
        self.wait_for_servers(names, timeout)

    def ask_for_servers(self, names: list[str]) -> None:
        """Create these learners if needed and ask the hub to start their servers (it spawns them meanwhile)."""
        for name in names:
            if self.request("GET", f"{self.url}hub/api/users/{name}")[0] == 404:
                self.api("POST", f"users/{name}")
            self.api("POST", f"users/{name}/server")

    def wait_for_servers(self, names: list[str], timeout: float = 90) -> None:
        """Wait until these learners' servers are ready; HubError with the hub's log if they are not."""

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

    def server_process(self, name: str) -> psutil.Process:
        """The learner's running single-user server; HubError if none runs."""
        for process in self.processes():
            try:
                if process.environ().get("JUPYTERHUB_USER") == name and "jupyterhub-singleuser" in " ".join(
                    process.cmdline()
                ):
                    return process
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        raise HubError(f"no running server of {name}'s found")

    def server_token(self, name: str) -> str:
        """The JUPYTERHUB_API_TOKEN the hub gave the learner's running server (server_token_scopes): their kernels'."""
        return self.server_process(name).environ()["JUPYTERHUB_API_TOKEN"]

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
        left = [m for m in self.processes() if m.pid not in self.own_pids]
        _gone, alive = psutil.wait_procs(left, timeout=10)  # a kernel ends itself once it sees its server gone
        for member in alive:
            with suppress(psutil.NoSuchProcess):
                member.kill()
        return [member.pid for member in alive]

    def stop(self, timeout: float = 30) -> list[int]:
        """Stop the hub (it stops the servers and the proxy), then the course service; the pids that had to be killed."""
        self.processes()  # the learners' servers and kernels, while they are still its descendants
        super().stop(timeout)
        killed = list(self.killed)
        self.service.stop()
        self.killed = killed + self.service.killed
        return self.killed


class CourseService(ChildProcess):
    """The course service run beside the hub, as the hub's config registers it: `start()`, `stop()`, `kill()` (a crash).

    It gets the variables a managed service gets from the hub (`hub_config.service_environment`), and serves on the
    same port with the same database and token each time it starts.
    """

    def __init__(self, hub: Hub, state: Path) -> None:
        self.hub = hub
        variables = hub_config.service_environment(hub.api_url, hub.service_token, hub.service_address, BASE_URL)
        env = server_environment(state / "service-env", **variables)
        command = [sys.executable, "-m", "quiz.service", "--data", str(hub.service_data)]
        super().__init__(command, state / "course-service.log", what="the course service", env=env,
                         ready=self.serves, startup_timeout=30)  # fmt: skip

    def serves(self) -> bool:
        """Its health check answers on its own port (the proxy may not route to it yet)."""
        url = f"{self.hub.service_address}{BASE_URL}services/{hub_config.SERVICE_NAME}/api/health"
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                return reply.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def answers(self) -> bool:
        """Its health check answers through the hub's proxy."""
        try:
            return self.hub.request("GET", self.hub.service_url + "api/health", timeout=2)[0] == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait until it answers through the proxy; HubError with the logs if it does not."""
        try:
            wait_until(self.answers, timeout, "the course service", interval=0.1)
        except TimeoutError:
            raise HubError(
                f"the course service did not answer within {timeout:.0f} s\n{self.hub.log()[-3000:]}"
            ) from None


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
    try:
        hub.service.wait_ready()
    except HubError:
        hub.stop()
        raise
    yield hub
    killed = hub.stop()
    assert killed == [], f"processes still running after the hub stopped: {killed}"


@pytest.fixture
def hub(session_hub):
    """The session's hub for this test; the learners' servers it started are stopped after it, with all they started."""
    yield session_hub
    killed = session_hub.stop_servers()
    assert killed == [], f"processes still running after the learners' servers stopped: {killed}"

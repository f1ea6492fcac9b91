"""A real JupyterHub on loopback with the course service: DummyAuthenticator, SimpleLocalProcessSpawner, configurable-http-proxy.

`start_hub(root)` returns a running `Hub`; `Hub.stop()` ends it with every process it started.
Learners are the hub's users; each gets a home folder of their own under `root/homes/`. The hub runs under a base
URL (/class/), as many hubs do, and its config ends with `quiz.service.hub_config.configure` exactly as
INSTRUCTORS.md gives it for a plain hub: the hub starts the course service itself (managed) and restarts it at its
next poll, and every learner's kernel records to it. The FOLDER_LEARNERS' kernels record into the class's folder
(`Hub.responses`) instead, as on a hub without the service. Its environment, and its learners', is built, never a
test's.

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
# The course service as INSTRUCTORS.md configures a plain hub: the hub starts it, and restarts it at its next poll.
from quiz.service import hub_config
hub_config.configure(
    c, data_dir={service_data!r}, url={service_address!r}, kernel_url={service_url!r}, instructors=[{instructor!r}]
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
        self.port, self.service_port = free_port(), free_port()
        self.api_token, self.password = secrets.token_hex(16), secrets.token_hex(8)
        self.service = CourseService(self)
        config = state / "jupyterhub_config.py"
        config.write_text(
            HUB_CONFIG.format(
                port=self.port, hub_port=free_port(), proxy_api_port=free_port(), chp=chp, state=str(state),
                password=self.password, api_token=self.api_token, homes=str(self.homes), singleuser=SINGLEUSER,
                environment=learners_env, base_url=BASE_URL, service_data=str(self.service_data),
                service_address=self.service_address, service_url=self.service_url, instructor=INSTRUCTOR,
                folder_learners=FOLDER_LEARNERS,
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
        left = [m for m in self.processes() if m.pid not in self.own_pids and not CourseService.runs_as(m)]
        _gone, alive = psutil.wait_procs(left, timeout=10)  # a kernel ends itself once it sees its server gone
        for member in alive:
            with suppress(psutil.NoSuchProcess):
                member.kill()
        return [member.pid for member in alive]

    def stop(self, timeout: float = 30) -> list[int]:
        """Stop the hub (it stops the course service, the servers and the proxy); the pids of any it left to kill."""
        self.processes()  # the learners' servers and kernels, while they are still its descendants
        super().stop(timeout)
        return self.killed


class CourseService:
    """The course service the hub started (managed): found among the hub's processes, ended as a crash would end it."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    @staticmethod
    def runs_as(process: psutil.Process) -> bool:
        """Whether the process is a course service (`python -m quiz.service`)."""
        with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            return process.cmdline()[1:3] == ["-m", "quiz.service"]
        return False

    def process(self) -> psutil.Process | None:
        """The service's process now, None while it is down."""
        return next((member for member in self.hub.processes() if self.runs_as(member)), None)

    def answers(self) -> bool:
        """Its health check answers through the hub's proxy."""
        try:
            return self.hub.request("GET", self.hub.service_url + "api/health", timeout=2)[0] == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait until it answers; HubError with the hub's log (where the service prints) if it does not."""
        try:
            wait_until(self.answers, timeout, "the course service", interval=0.1)
        except TimeoutError:
            raise HubError(
                f"the course service did not answer within {timeout:.0f} s\n{self.hub.log()[-3000:]}"
            ) from None

    def stop(self, timeout: float = 15) -> int:
        """End it with SIGTERM, as a crash or a redeploy would, until it no longer answers; its pid. The hub restarts it."""
        process = self.process()
        if process is None:
            raise HubError(f"the course service is not running\n{self.hub.log()[-3000:]}")
        process.terminate()
        # The hub, its parent, reaps it only at its next poll: until then it is a zombie, so watch what it served.
        wait_until(lambda: not self.answers(), timeout, "the course service to stop", interval=0.05)
        return process.pid

    def memory_mb(self) -> float:
        """Its unique memory (USS) in MB; 0 while it is down."""
        process = self.process()
        with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            return process.memory_full_info().uss / 1e6 if process else 0.0
        return 0.0


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

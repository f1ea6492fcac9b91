"""A real JupyterHub with the course service beside it: `course_hub` (one per test module).

The hub is tests/hub_fixtures.py's, under a base URL (/class/), its config extended by `quiz.service.hub_config.configure` exactly as
INSTRUCTORS.md shows, with the service registered by URL and run by the test (managed=False): a test can then
stop and start it at once, where a managed service is restarted only at the hub's next poll (about 30 s).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest
from helpers import free_port, missing, start_on_free_port
from hub_fixtures import Hub, HubError, configurable_http_proxy

from quiz.service import hub_config
from sandbox_app.processes.child import ChildProcess

LEARNERS = ("ana", "ben")
BASE_URL = "/class/"
INSTRUCTOR = "tess"

COURSE_CONFIG = """
# The course service, as INSTRUCTORS.md configures it (run beside the hub: the test starts and stops it).
from quiz.service import hub_config
hub_config.configure(
    c, data_dir={data!r}, url={url!r}, kernel_url={kernel_url!r}, instructors=[{instructor!r}],
    managed=False, api_token={token!r},
)
"""


class CourseHub(Hub):
    """The test hub, with the course service's scopes, roles, group and registration added to its config."""

    def __init__(self, root: Path, chp: str) -> None:
        super().__init__(root, chp)
        self.service_port, self.service_token = free_port(), secrets.token_hex(16)
        self.data = root / f"course-service-{secrets.token_hex(4)}"
        config = Path(self.command[-1])
        # Under a base URL, as many hubs are: the service's prefix, its OAuth and the live view's links must follow.
        plain = f'c.JupyterHub.bind_url = "http://127.0.0.1:{self.port}/"'
        text = config.read_text()
        assert plain in text, "the test hub's config changed: set its base URL another way"
        config.write_text(
            text.replace(plain, f'c.JupyterHub.bind_url = "http://127.0.0.1:{self.port}{BASE_URL}"')
            + COURSE_CONFIG.format(
                data=str(self.data), url=self.service_address, kernel_url=self.service_url,
                instructor=INSTRUCTOR, token=self.service_token,
            )
        )  # fmt: skip

    @property
    def url(self) -> str:
        """The hub's public URL (its proxy) with its base URL, ending in '/'."""
        return f"http://127.0.0.1:{self.port}{BASE_URL}"

    @property
    def service_address(self) -> str:
        """Where the service listens (only the proxy calls it there)."""
        return f"http://127.0.0.1:{self.service_port}"

    @property
    def service_url(self) -> str:
        """The service through the hub's proxy: QUIZ_SERVICE_URL, what kernels and browsers use."""
        return f"{self.url}services/{hub_config.SERVICE_NAME}/"

    def server_token(self, name: str) -> str:
        """The JUPYTERHUB_API_TOKEN the hub gave the learner's running server (server_token_scopes): their kernels'."""
        for process in self.processes():
            try:
                environ = process.environ()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if environ.get("JUPYTERHUB_USER") == name and "jupyterhub-singleuser" in " ".join(process.cmdline()):
                return environ["JUPYTERHUB_API_TOKEN"]
        raise HubError(f"no running server of {name}'s found")


class CourseService(ChildProcess):
    """`python -m quiz.service` beside the hub, with the variables a managed service would get; ready when it answers."""

    def __init__(self, hub: CourseHub) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "JPY_"))}
        env.update(hub_config.service_environment(f"{hub.url}hub/api", hub.service_token, hub.service_address,
                                                  base_url=BASE_URL))  # fmt: skip
        self.health = f"{hub.service_address}{BASE_URL}services/{hub_config.SERVICE_NAME}/api/health"
        command = [sys.executable, "-m", "quiz.service", "--data", hub.data]
        super().__init__(command, hub.data.parent / "course-service.log", what="the course service", env=env,
                         ready=self._answers)  # fmt: skip

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.health, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False


@pytest.fixture(scope="module")
def course_hub(tmp_path_factory):
    """A hub with the course service beside it and two learners' servers running; stopped with every process."""
    chp = configurable_http_proxy()
    if chp is None:
        missing(
            "configurable-http-proxy (the hub's proxy, from npm) is not installed",
            "npm install -g configurable-http-proxy (`make test` does, as root)",
        )
    root = tmp_path_factory.mktemp("course-hub")
    hub = start_on_free_port(lambda: CourseHub(root, chp), "address already in use")
    service = None
    try:
        service = hub.service = CourseService(hub).start()
        hub.start_learners(list(LEARNERS))
        yield hub
    finally:
        killed = []
        if service is not None:
            service.stop()
            killed += service.killed
        killed += hub.stop()
        assert killed == [], f"processes still running after the hub stopped: {killed}"


def run_in_kernel(hub: Hub, name: str, code: str, timeout: float = 60) -> str:
    """Run code in a new kernel of the learner's server, started through the hub's proxy; what it printed."""
    return asyncio.run(_run_in_kernel(hub, name, code, timeout))


async def _run_in_kernel(hub: Hub, name: str, code: str, timeout: float) -> str:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    token = hub.user_token(name)
    status, kernel = hub.request("POST", hub.user_url(name) + "api/kernels", {"name": "python3"}, token=token)
    if status != 201:
        raise HubError(f"no kernel for {name}: {status} {kernel}")
    url = hub.user_url(name).replace("http://", "ws://") + f"api/kernels/{kernel['id']}/channels"
    connection = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"}))
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "msg_type": "execute_request", "username": name, "session": uuid.uuid4().hex,
              "version": "5.3", "date": ""}  # fmt: skip
    content = {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False}
    await connection.write_message(json.dumps({"header": header, "parent_header": {}, "metadata": {},
                                               "content": content, "channel": "shell", "buffers": []}))  # fmt: skip
    printed, deadline = [], asyncio.get_running_loop().time() + timeout
    try:
        while True:
            left = deadline - asyncio.get_running_loop().time()
            raw = await asyncio.wait_for(connection.read_message(), max(left, 0.1))
            if raw is None:
                raise HubError(f"{name}'s kernel closed its channels")
            message = json.loads(raw)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = message["msg_type"]
            if kind == "stream":
                printed.append(message["content"]["text"])
            elif kind == "error":
                printed.append("\n".join(message["content"]["traceback"]))
            elif kind == "status" and message["content"]["execution_state"] == "idle":
                return "".join(printed)
    finally:
        connection.close()
        hub.request("DELETE", hub.user_url(name) + f"api/kernels/{kernel['id']}", token=token)

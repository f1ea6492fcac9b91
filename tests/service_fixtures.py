"""The course service's tests on the session's hub: two learners' servers running (`course_hub`), and their kernels.

The service is the one tests/hub_fixtures.py runs beside the hub, registered by
`quiz.service.hub_config.configure` exactly as INSTRUCTORS.md shows. `run_in_kernel` runs code in a new kernel of a
learner's server, started through the hub's proxy as JupyterLab starts one; `open_class_view` signs in to the
service's page in a browser.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

import pytest
from hub_fixtures import INSTRUCTOR, Hub, HubError

from quiz.service.hub_config import ACCESS_SCOPE, READ_SCOPE

LEARNERS = ("ana", "ben")


@pytest.fixture(scope="module")
def course_hub(session_hub):
    """The session's hub, its course service answering and two learners' servers running; their servers stopped after."""
    session_hub.service.wait_ready()
    session_hub.start_learners(list(LEARNERS))
    yield session_hub
    killed = session_hub.stop_servers()
    assert killed == [], f"processes still running after the learners' servers stopped: {killed}"


def instructor_token(hub: Hub) -> str:
    """A token of the instructor's with the read scope (their browser's OAuth token carries the same)."""
    reply = hub.api("POST", f"users/{INSTRUCTOR}/tokens", {"scopes": [READ_SCOPE, ACCESS_SCOPE], "expires_in": 600})
    return reply["token"]


def run_in_kernel(hub: Hub, name: str, code: str, timeout: float = 60) -> str:
    """Run code in a new kernel of the learner's server, started through the hub's proxy; what it printed."""
    # In an event loop of its own, on a thread of its own: Playwright's sync API, once a test of this worker started
    # it, keeps a loop running on this one, and asyncio.run() refuses to start beside it.
    with ThreadPoolExecutor(1, thread_name_prefix="run-in-kernel") as thread:
        return thread.submit(asyncio.run, _run_in_kernel(hub, name, code, timeout)).result()


async def _run_in_kernel(hub: Hub, name: str, code: str, timeout: float) -> str:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    token = hub.user_token(name)
    status, kernel = hub.request("POST", hub.user_url(name) + "api/kernels", {"name": "python3"}, token=token)
    if status != 201:
        raise HubError(f"no kernel for {name}: {status} {kernel}")
    url = hub.user_url(name).replace("http://", "ws://") + f"api/kernels/{kernel['id']}/channels"
    # The connection waits for the kernel to start: with a class's kernels starting at once on two busy cores, longer
    # than tornado's default of 20 s (seen in make test). It has the call's time, as the execution does.
    request = HTTPRequest(
        url, headers={"Authorization": f"token {token}"}, connect_timeout=timeout, request_timeout=timeout
    )
    connection = await websocket_connect(request)
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
        # Wait for the server to answer the close (tornado gives up after 5 s): the socket is closed then, not
        # left for the garbage collector to find after asyncio.run has ended this loop.
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(_closed(connection), 6)
        hub.request("DELETE", hub.user_url(name) + f"api/kernels/{kernel['id']}", token=token)


async def _closed(connection) -> None:
    """Return once the websocket connection is closed (read_message gives None then)."""
    while await connection.read_message() is not None:
        pass


def open_class_view(page, hub: Hub, name: str) -> None:
    """Open the service's page in a browser: the hub's login (DummyAuthenticator), then its OAuth, approved if it asks."""
    page.goto(hub.service_url)
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(hub.password)
    page.get_by_role("button", name="Sign in").click()
    authorize = page.get_by_role("button", name="Authorize")
    page.wait_for_load_state()
    if authorize.count():
        authorize.click()
        page.wait_for_load_state()

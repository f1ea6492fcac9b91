"""What the tests share besides fixtures (pytest advises importing from a module, never from conftest).

- ``EMAIL``, ``eventually``: the test email; polling for what another thread or process makes true.
- ``http_call``, ``http_get``, ``http_post``, ``get_json``, ``timed``: every HTTP request a test makes
  to a running sandbox (or a web process) goes through these, and ``open_page`` is every browser
  page a test opens on one: what each request must carry is added here, in one place.
- ``started_since``: threads a test started that are still alive, whatever else runs.
- ``process_exists``, ``wait_gone``, ``port_is_free``: processes and ports, checked from outside.
- ``missing``, ``need_program``, ``find_chromium``: a part the machine lacks skips its tests with one
  reason, or fails them when ``SANDBOX_REQUIRE_ALL=1`` (as ``.ci/run`` sets) says nothing may skip.
"""

from __future__ import annotations

import http.client
import json as jsonlib
import os
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest

from quiz.bank import BankError
from sandbox_app import addresses
from sandbox_app.lab.timing import Sample, timed_request

EMAIL = {"to": "learner@example.com", "subject": "Hello", "body": "This is a test email."}
REQUIRE_ALL = "SANDBOX_REQUIRE_ALL"
KEY_HEADER = "X-Sandbox-Key"
# Where the tests look for a Chromium, after $CHROMIUM_PATH: the names distributions give it.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
HTTP_TIMEOUT = 30.0  # seconds: only so that a frozen server fails the test instead of hanging it


def eventually(condition, timeout=5.0, interval=0.01):
    """Poll `condition` until it returns something truthy; return it, or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            assert result, f"condition still false after {timeout} s"
            return result
        time.sleep(interval)


# --- HTTP to a sandbox ---------------------------------------------------------------------------


def url_of(target, path: str = "") -> str:
    """The URL of `path` on a sandbox, a web process (anything with `.url`) or a base URL string."""
    base = target if isinstance(target, str) else target.url
    return base.rstrip("/") + "/" + path.lstrip("/")


def auth_headers(target) -> dict[str, str]:
    """The headers every request to `target` must carry (its key; none for a bare URL or an open sandbox)."""
    return {} if isinstance(target, str) else addresses.auth_headers(target)


def key_headers(key: str | None) -> dict[str, str]:
    """The header that carries a sandbox's key (DESIGN.md's public contract), for a key read from its output."""
    return {KEY_HEADER: key} if key else {}


@dataclass
class Reply:
    """One HTTP response: status, headers (their names lower-cased) and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (ValueError if it is not)."""
        return jsonlib.loads(self.body)

    def __repr__(self) -> str:
        return f"<Reply {self.status}: {self.text[:300]!r}>"


def http_call(
    method: str, target, path: str = "", json: Any = None, headers: dict | None = None, timeout: float = HTTP_TIMEOUT
) -> Reply:
    """One request on a fresh connection, as an outside client makes it; any status is returned, not raised."""
    parts = urlsplit(url_of(target, path))
    body = jsonlib.dumps(json).encode() if json is not None else None
    sent = {
        **auth_headers(target),
        **({"Content-Type": "application/json"} if body is not None else {}),
        **(headers or {}),
    }
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=body, headers=sent)
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def http_get(target, path: str = "", **options) -> Reply:
    """GET `path` on a sandbox or URL."""
    return http_call("GET", target, path, **options)


def http_post(target, path: str, json: Any = None, **options) -> Reply:
    """POST JSON to `path` on a sandbox or URL."""
    return http_call("POST", target, path, json, **options)


def get_json(target, path: str) -> Any:
    """GET `path`, which must answer 200, and parse its JSON."""
    reply = http_get(target, path)
    assert reply.status == 200, f"GET {path}: {reply!r}"
    return reply.json()


def timed(target, path: str, method: str = "GET", json: Any = None) -> Sample:
    """One request timed by the lessons' own stopwatch (sandbox_app.lab.timing), with what it must carry."""
    return timed_request(url_of(target, path), method, json, headers=auth_headers(target))


def open_page(page, target, path: str = ""):
    """Open a sandbox's page in a browser tab, as a learner's link does; Playwright's response."""
    # A sandbox's link lets the browser in (its key trades for a cookie).
    return page.goto(url_of(target, path) if isinstance(target, str) else addresses.key_link(target, path))


# --- threads, processes, ports -------------------------------------------------------------------


# Threads a library starts once per process and keeps on purpose: tqdm's monitor of its progress bars.
PROCESS_WIDE_THREADS = {"tqdm_monitor"}


def started_since(before) -> list[str]:
    """The names of the threads alive now that were not in `before` (a `set(threading.enumerate())`).

    Threads that ended meanwhile, and the process-wide ones of libraries, never count.
    """
    now = threading.enumerate()
    return sorted(t.name for t in now if t not in before and t.name not in PROCESS_WIDE_THREADS)


def process_exists(pid: int) -> bool:
    """Whether a process with this id is alive (on Linux a zombie, exited but not reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        if os.path.isdir("/proc"):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pid: int, timeout: float = 10.0) -> None:
    """Fail unless the process with this id has exited within `timeout` s."""
    eventually(lambda: not process_exists(pid), timeout=timeout)


def port_is_free(port: int) -> bool:
    """Whether this port can be bound on loopback right now."""
    try:
        with socket.create_server(("127.0.0.1", port)):
            return True
    except OSError:
        return False


# --- parts the machine may lack ------------------------------------------------------------------


def required(env: str | None = None) -> bool:
    """Whether every test must run: SANDBOX_REQUIRE_ALL=1 (or the older, narrower `env` variable) is set."""
    return os.environ.get(REQUIRE_ALL) == "1" or bool(env and os.environ.get(env))


def missing(what: str, how: str, *, env: str | None = None) -> NoReturn:
    """Skip the test for want of `what`, saying `how` to get it; fail instead when every test must run."""
    reason = f"{what}: {how}"
    if required(env):
        pytest.fail(f"{reason} ({REQUIRE_ALL}=1: nothing may be skipped)", pytrace=False)
    pytest.skip(reason)


def need_program(name: str, how: str, *, env: str | None = None) -> str:
    """The path of the program `name` on the PATH; the test is skipped (or fails) without it."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed", how, env=env)
    return path


def find_chromium(playwright_chromium=None) -> str:
    """The Chromium to drive: $CHROMIUM_PATH, else one on the PATH, else the one Playwright installed.

    Skips (or fails, when every test must run) with one reason if there is none.
    """
    given = os.environ.get("CHROMIUM_PATH")
    if given:
        if os.access(given, os.X_OK):
            return given
        missing(f"CHROMIUM_PATH is {given!r}, which is not an executable", "point it at a Chromium, or unset it")
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    bundled = getattr(playwright_chromium, "executable_path", None)
    if bundled and os.access(bundled, os.X_OK):
        return bundled
    missing(
        "no Chromium found (CHROMIUM_PATH, " + ", ".join(CHROMIUM_NAMES) + " on the PATH, or Playwright's own)",
        "apt install chromium (`make test` does, as root), set CHROMIUM_PATH, or `python -m playwright install chromium`",
    )


# --- quiz banks ------------------------------------------------------------------------------------


def option(key: str, text: str, feedback: str) -> dict:
    """One option of a bank question, as the YAML file writes it."""
    return {"key": key, "text": text, "feedback": feedback}


def question(qid: str, prompt: str, options: list[dict], answer: Any, explanation: str, **more: Any) -> dict:
    """One bank question, as the YAML file writes it (`kind`, `code`, ... in `more`)."""
    return {"id": qid, **({"kind": more.pop("kind")} if "kind" in more else {}), "prompt": prompt, **more,
            "options": options, "answer": answer, "explanation": explanation}  # fmt: skip


def broken_copy(bank: dict, change) -> dict:
    """A deep copy of a valid bank after change(data) broke something in it."""
    data = jsonlib.loads(jsonlib.dumps(bank))
    change(data)
    return data


def refused_with(check, data, source: str, pieces: list[str], case: str = "") -> str:
    """The BankError message `check(data, source)` raises, checked to start with the file and name every piece."""
    with pytest.raises(BankError) as raised:
        check(data, source)
    message = str(raised.value)
    assert message.startswith(f"{source}:")
    for piece in pieces:
        assert piece in message, f"{case}: {piece!r} not in {message!r}"
    return message

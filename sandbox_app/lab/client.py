"""How a lesson cell reaches the app: one request and its reply (status, headers, body, time), or a link to open."""

from __future__ import annotations

import html
import json as jsonlib
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from ..addresses import key_link
from ..examples import DEFAULT_EMAIL
from ..measuring import endpoint, parse_server_timing, timed_exchange
from ..sandbox import Sandbox
from .running import running_sandbox


@dataclass
class Reply:
    """One response from the sandbox: status, headers, body and how long it took."""

    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    started_at: float

    @property
    def ms(self) -> float:
        """The response time in milliseconds, as the client saw it."""
        return self.seconds * 1000

    @property
    def finished_at(self) -> float:
        """When the whole response had arrived (epoch seconds)."""
        return self.started_at + self.seconds

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", errors="replace")

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return jsonlib.loads(self.body)
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        """A response header, whatever its capitalisation."""
        return next((value for key, value in self.headers.items() if key.lower() == name.lower()), None)

    @property
    def server_timing(self) -> dict[str, float]:
        """The Server-Timing header as {name: milliseconds}, e.g. {'smtp': 301.2, 'app': 1.1}."""
        return parse_server_timing(self.header("Server-Timing"))

    def __repr__(self) -> str:
        try:
            reason = HTTPStatus(self.status).phrase
        except ValueError:  # a status code Python has no name for
            reason = ""
        shown = jsonlib.dumps(self.json) if self.json is not None else self.text[:200]
        return f"{self.method} /{self.path} -> {self.status} {reason}: {shown}"


def call(sandbox: Sandbox, method: str, path: str, json: dict | None = None, timeout: float = 30.0) -> Reply:
    """Send one request to the sandbox and keep everything about the answer."""
    where = endpoint(running_sandbox(sandbox))
    path = path.lstrip("/")
    exchange = timed_exchange(where.route(path), method, json, timeout, where.headers)
    sample = exchange.sample
    return Reply(method, path, sample.status, exchange.headers, exchange.body, sample.seconds, sample.started_at)


def get(sandbox: Sandbox, path: str) -> Reply:
    """GET a path of the sandbox, e.g. get(sandbox, "api/stats")."""
    return call(sandbox, "GET", path)


def post(sandbox: Sandbox, path: str, json: dict | None = None) -> Reply:
    """POST JSON to a path of the sandbox, e.g. post(sandbox, "send/blocking", email) (a test email if none)."""
    return call(sandbox, "POST", path, DEFAULT_EMAIL if json is None and path.strip("/").startswith("send/") else json)


def put(sandbox: Sandbox, path: str, json: dict) -> Reply:
    """PUT JSON to a path of the sandbox, e.g. put(sandbox, "api/smtp", {"delay": 0.1})."""
    return call(sandbox, "PUT", path, json)


@dataclass
class Link:
    """A link the learner's browser can open (through JupyterHub's proxy on a hub)."""

    url: str
    text: str

    def _repr_html_(self) -> str:
        return f'<a href="{html.escape(self.url)}" target="_blank" rel="noopener">{html.escape(self.text)}</a>'

    def __repr__(self) -> str:
        return f"{self.text}: {self.url}"


def link(sandbox: Sandbox, path: str = "", text: str | None = None) -> Link:
    """A clickable link to a page of the sandbox, e.g. link(sandbox, "inbox")."""
    sandbox = running_sandbox(sandbox)
    path = path.lstrip("/")
    # The key rides along once: the app trades it for a cookie and drops it from the address bar.
    return Link(key_link(sandbox, path), text or f"Open /{path} in a new tab")

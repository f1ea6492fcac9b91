"""HTTP to a running sandbox, a web process or a URL, as an outside client makes it: the key added in one place."""

from __future__ import annotations

from typing import Any

from sandbox_app.addresses import KEY_HEADER, auth_headers, key_link
from sandbox_app.lab.client import Reply  # status, headers, body, text, json, header(), server_timing
from sandbox_app.measuring import Sample, route_url, timed_exchange, timed_request

__all__ = ["HTTP_TIMEOUT", "Reply", "auth_headers", "get_json", "http_call", "http_get", "http_post", "key_headers",
           "open_page", "timed", "url_of"]  # fmt: skip

HTTP_TIMEOUT = 30.0  # seconds: only so that a frozen server fails the test instead of hanging it


def url_of(target, path: str = "") -> str:
    """The URL of `path` on a sandbox, a web process (anything with `.url`) or a base URL: the lessons' route_url."""
    return route_url(target, path)


def key_headers(key: str | None) -> dict[str, str]:
    """The header that carries a sandbox's key (DESIGN.md's public contract), for a key read from its output."""
    return {KEY_HEADER: key} if key else {}


def http_call(
    method: str, target, path: str = "", json: Any = None, headers: dict | None = None, timeout: float = HTTP_TIMEOUT
) -> Reply:
    """One request on a fresh connection, as lesson cells make it (their Reply); any status is returned, not raised.

    Unlike `sandbox_app.lab.post`, the target may be a URL or a web process, and `headers` are added.
    """
    path = path.lstrip("/")
    exchange = timed_exchange(url_of(target, path), method, json, timeout, {**auth_headers(target), **(headers or {})})
    sample = exchange.sample
    return Reply(method, path, sample.status, exchange.headers, exchange.body, sample.seconds, sample.started_at)


def http_get(target, path: str = "", **options) -> Reply:
    """GET `path` on a sandbox or URL."""
    return http_call("GET", target, path, **options)


def http_post(target, path: str, json: Any = None, **options) -> Reply:
    """POST JSON to `path` on a sandbox or URL."""
    return http_call("POST", target, path, json, **options)


def get_json(target, path: str) -> Any:
    """GET `path`, which must answer 200, and parse its JSON."""
    reply = http_get(target, path)
    assert reply.status == 200 and reply.json is not None, f"GET {path}: {reply!r}"
    return reply.json


def timed(target, path: str, method: str = "GET", json: Any = None) -> Sample:
    """One request timed by the lessons' own stopwatch (sandbox_app.measuring), with what it must carry."""
    return timed_request(url_of(target, path), method, json, headers=auth_headers(target))


def open_page(page, target, path: str = ""):
    """Open a sandbox's page in a browser tab, as a learner's link does; Playwright's response."""
    # A sandbox's link lets the browser in (its key trades for a cookie).
    return page.goto(url_of(target, path) if isinstance(target, str) else key_link(target, path))

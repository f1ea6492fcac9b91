"""The launcher's JSON API as an app in its own process calls it: its mail server, its Redis and queue workers."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from .addresses import KEY_HEADER


class LauncherApi:
    """JSON calls to the /api/ of the process that launched this one, with the sandbox's key."""

    def __init__(self, api_url: str, key: str | None = None, timeout: float = 10.0) -> None:
        self.api_url = api_url.rstrip("/") + "/"
        self.key = key
        self.timeout = timeout

    def call(self, method: str, path: str, body: dict | None = None, timeout: float | None = None) -> tuple[int, Any]:
        """(status, decoded JSON answer) of `method` on `path` under the API; OSError when it cannot be reached."""
        parts = urlsplit(self.api_url + path)
        headers = {KEY_HEADER: self.key} if self.key else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout or self.timeout)
        try:
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            connection.request(method, target, json.dumps(body) if body is not None else None, headers)
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            connection.close()

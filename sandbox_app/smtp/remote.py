"""The debug mail server seen from another process: the same methods, over the launching process's HTTP API."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from ..addresses import KEY_HEADER
from .settings import MailServerSettings, SettingsError
from .store import CapturedMessage


class RemoteMailServer:
    """What an app in its own process (gunicorn, waitress) needs of the debug mail server its launcher runs."""

    def __init__(self, api_url: str, key: str | None = None, timeout: float = 10.0) -> None:
        self.api_url = api_url.rstrip("/") + "/"
        self.key = key
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict | None = None) -> tuple[int, Any]:
        parts = urlsplit(self.api_url + path)
        headers = {KEY_HEADER: self.key} if self.key else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
        try:
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            connection.request(method, target, json.dumps(body) if body is not None else None, headers)
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            connection.close()

    def _state(self) -> dict:
        return self._call("GET", "smtp")[1]

    @property
    def running(self) -> bool:
        """Whether the launcher's mail server answers."""
        try:
            return self._call("GET", "smtp")[0] == 200
        except OSError:
            return False

    @property
    def address(self) -> str:
        """host:port, as an SMTP client dials it."""
        return self._state()["address"]

    @property
    def settings(self) -> MailServerSettings:
        """The current settings."""
        return MailServerSettings().updated(self._state()["settings"])

    def configure(self, **changes: Any) -> MailServerSettings:
        """Change settings while running; SettingsError with the server's reason when refused."""
        status, answer = self._call("PUT", "smtp", changes)
        if status == 400:
            raise SettingsError(answer["error"])
        return MailServerSettings().updated(answer["settings"])

    def counters(self) -> dict[str, Any]:
        """Connections, refusals and faults, as the mail server counts them."""
        return self._state()["counters"]

    def _listing(self, limit: int) -> dict:
        return self._call("GET", f"messages?limit={limit}")[1]

    def newest(self, limit: int | None = None) -> list[CapturedMessage]:
        """The newest `limit` messages held (at most 1,000), newest first."""
        return [_message(data) for data in self._listing(min(limit or 1000, 1000))["messages"]]

    @property
    def messages(self) -> list[CapturedMessage]:
        """The messages held (up to 1,000), oldest first."""
        return list(reversed(self.newest(1000)))

    @property
    def count(self) -> int:
        """Messages held now."""
        return self._listing(1)["count"]

    @property
    def total(self) -> int:
        """Messages captured since the start or the last clear."""
        return self._listing(1)["total"]

    def clear(self) -> int:
        """Empty the inbox; return how many messages it held."""
        return self._call("DELETE", "messages")[1]["deleted"]


def _message(data: dict) -> CapturedMessage:
    """A captured message from its JSON form."""
    return CapturedMessage(
        **{**data, "rcpt_tos": tuple(data["rcpt_tos"]), "headers": tuple(tuple(pair) for pair in data["headers"])}
    )

"""The debug mail server seen from another process: the same methods, over the launching process's HTTP API."""

from __future__ import annotations

from typing import Any

from ..launcher_api import LauncherApi
from .settings import MailServerSettings, SettingsError
from .store import CapturedMessage


class RemoteMailServer(LauncherApi):
    """What an app in its own process (gunicorn, waitress) needs of the debug mail server its launcher runs."""

    def _state(self) -> dict:
        return self.call("GET", "smtp")[1]

    @property
    def running(self) -> bool:
        """Whether the launcher's mail server answers."""
        try:
            return self.call("GET", "smtp")[0] == 200
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
        status, answer = self.call("PUT", "smtp", changes)
        if status == 400:
            raise SettingsError(answer["error"])
        return MailServerSettings().updated(answer["settings"])

    def counters(self) -> dict[str, Any]:
        """Connections, refusals and faults, as the mail server counts them."""
        return self._state()["counters"]

    def _listing(self, limit: int) -> dict:
        return self.call("GET", f"messages?limit={limit}")[1]

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
        return self.call("DELETE", "messages")[1]["deleted"]


def _message(data: dict) -> CapturedMessage:
    """A captured message from its JSON form."""
    return CapturedMessage(
        **{**data, "rcpt_tos": tuple(data["rcpt_tos"]), "headers": tuple(tuple(pair) for pair in data["headers"])}
    )

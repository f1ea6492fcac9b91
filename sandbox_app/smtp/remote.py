"""The debug mail server seen from an app in another process: the same methods, over its launcher's channel.

The launcher serves its mail server with `serve_mail_server(channel, server)`; the app's process
shows it through `RemoteMailServer(client)`, a `processes.channel.LauncherClient`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..processes.channel import LauncherChannel, LauncherClient
from .settings import MailServerSettings
from .store import CapturedMessage

if TYPE_CHECKING:
    from .server import DebugMailServer


def serve_mail_server(channel: LauncherChannel, server: DebugMailServer) -> None:
    """On the launcher: answer the calls "mail.*" of a RemoteMailServer with `server`."""
    handlers = {
        "running": lambda: server.running,
        "address": lambda: server.address,
        # Settings travel as their dict: the object holds a read-only mapping, which does not pickle.
        "settings": lambda: server.settings.to_dict(),
        "configure": lambda changes: server.configure(**changes).to_dict(),
        "counters": server.counters,
        "newest": server.newest,
        "count": lambda: server.count,
        "total": lambda: server.total,
        "clear": server.clear,
    }
    for name, handler in handlers.items():
        channel.serve(f"mail.{name}", handler)


class RemoteMailServer:
    """What an app in its own process (gunicorn, waitress) needs of the debug mail server its launcher runs.

    A call raises what the server raised (SettingsError for refused settings), or OSError when the
    launcher cannot be reached: the app answers 503 then.
    """

    def __init__(self, launcher: LauncherClient) -> None:
        self.launcher = launcher

    @property
    def running(self) -> bool:
        """Whether the launcher's mail server answers."""
        try:
            return self.launcher.call("mail.running")
        except OSError:
            return False

    @property
    def address(self) -> str:
        """host:port, as an SMTP client dials it."""
        return self.launcher.call("mail.address")

    @property
    def settings(self) -> MailServerSettings:
        """The current settings."""
        return MailServerSettings().updated(self.launcher.call("mail.settings"))

    def configure(self, **changes: Any) -> MailServerSettings:
        """Change settings while running; SettingsError with the server's reason when refused."""
        return MailServerSettings().updated(self.launcher.call("mail.configure", changes))

    def counters(self) -> dict[str, Any]:
        """Connections, refusals and faults, as the mail server counts them."""
        return self.launcher.call("mail.counters")

    def newest(self, limit: int | None = None) -> list[CapturedMessage]:
        """The newest `limit` messages held (all when None), newest first."""
        return self.launcher.call("mail.newest", limit)

    @property
    def messages(self) -> list[CapturedMessage]:
        """The messages held, oldest first."""
        return list(reversed(self.newest()))

    @property
    def count(self) -> int:
        """Messages held now."""
        return self.launcher.call("mail.count")

    @property
    def total(self) -> int:
        """Messages captured since the start or the last clear."""
        return self.launcher.call("mail.total")

    def clear(self) -> int:
        """Empty the inbox; return how many messages it held."""
        return self.launcher.call("mail.clear")

"""The debug mail server an app sends to and shows, reached through one accessor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, abort, current_app

if TYPE_CHECKING:  # the mail server's code (aiosmtpd, TLS) stays out of the workers, which never run it
    from ..smtp.server import DebugMailServer


EXTENSION = "debug_mail_server"


def attach_mail_server(app: Flask, server: DebugMailServer) -> None:
    """Let the app show this server's inbox and settings."""
    app.extensions[EXTENSION] = server


def get_mail_server(app: Flask | None = None) -> DebugMailServer | None:
    """The debug mail server attached to the app, or None when it sends to an outside server."""
    return (app or current_app).extensions.get(EXTENSION)


def attached_mail_server() -> DebugMailServer:
    """The current app's debug mail server, or a 503 when it runs without one."""
    server = get_mail_server()
    if server is None:
        abort(503, "this app has no debug mail server attached (it sends to an outside SMTP server)")
    return server

"""The app factory: `create_app(settings=None, *, mail_server=None)`, as in Flask's tutorial."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from ..config import SETTINGS_EXTENSION, SandboxConfig
from ..database import init_database
from ..mailer.background import init_background
from ..mailer.seam import init_seam, mail
from ..mailer.stats import init_stats
from ..patterns import COUNTED_PATTERNS
from ..patterns import init_app as init_patterns
from . import api, bulk, pages, send, signup
from .access import init_access
from .compose import MAX_BODY_BYTES
from .errors import register_error_handlers
from .mail_server import attach_mail_server

if TYPE_CHECKING:  # the mail server's code (aiosmtpd, TLS) stays out of the workers, which never run it
    from ..smtp.server import DebugMailServer


def create_app(
    settings: SandboxConfig | Mapping[str, Any] | None = None, *, mail_server: DebugMailServer | None = None
) -> Flask:
    """Create the app from a sandbox's settings (a dict of Flask settings, for tests, as flaskr's `test_config`).

    `mail_server` is the DebugMailServer it sends to and shows (optional); `config.get_settings(app)` gives
    the settings back.
    """
    app = Flask(__name__)
    app.config.from_mapping(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=getattr(mail_server, "port", None) or 8025,  # a remote one: the config names the port
        MAIL_DEFAULT_SENDER="Mail Sandbox <sandbox@example.com>",
        MAIL_TIMEOUT=10.0,
        # Flask-Mail skips the socket when testing; this app exists to measure the socket.
        MAIL_SUPPRESS_SEND=False,
        # The largest allowed body, plus room for the JSON around it; beyond that werkzeug says 413.
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES * 2,
    )
    if isinstance(settings, SandboxConfig):
        app.config.from_mapping(settings.flask_config())
    else:  # Flask settings alone: the sandbox's defaults with them on top, for the processes it starts
        app.config.from_mapping(settings or {})
        settings = SandboxConfig(app_config={"MAIL_PORT": app.config["MAIL_PORT"], **(settings or {})})
    app.extensions[SETTINGS_EXTENSION] = settings
    init_access(app)  # first: a request without the key changes nothing
    mail.init_app(app)
    init_stats(app, COUNTED_PATTERNS)  # in the STATS_PATH file, made in the state folder when none is given
    init_background(app)
    init_seam(app)  # stopping the app waits for the sends its patterns still hold
    init_patterns(app)  # the pool and the queue
    init_database(app)  # the users and the outbox: SQLite in the state folder, or the settings' database_url
    if mail_server is not None:
        attach_mail_server(app, mail_server)
    for blueprint in (send.bp, bulk.bp, api.bp, pages.bp, signup.bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    # Behind jupyter-server-proxy the app lives under a path such as /user/ana/proxy/5000/,
    # which the proxy strips and sends as X-Forwarded-Prefix: url_for then keeps every link
    # inside it. Only loopback clients reach the app; the one proxy hop in front is trusted.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_prefix=1)
    return app

"""The sandbox: a Flask app that sends real mail with Flask-Mail, to study sending performance."""

from __future__ import annotations

import sys
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import api, pages, send
from .compose import MAX_BODY_BYTES
from .errors import register_error_handlers
from .mailer import mail
from .patterns import COUNTED_PATTERNS
from .patterns import init_app as init_patterns
from .stats import DeliveryStats

__all__ = ["create_app", "start", "stop", "current", "measure"]


def create_app(test_config: dict[str, Any] | None = None, *, mail_server=None) -> Flask:
    """Create the app; `mail_server` is the DebugMailServer it sends to and shows (optional)."""
    app = Flask(__name__)
    app.config.from_mapping(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=mail_server.port if mail_server is not None else 8025,
        MAIL_DEFAULT_SENDER="Mail Sandbox <sandbox@example.com>",
        MAIL_TIMEOUT=10.0,
        # Flask-Mail skips the socket when testing; this app exists to measure the socket.
        MAIL_SUPPRESS_SEND=False,
        # The largest allowed body, plus room for the JSON around it; beyond that werkzeug says 413.
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES * 2,
    )
    if test_config:
        app.config.from_mapping(test_config)
    mail.init_app(app)
    app.extensions["sandbox_stats"] = DeliveryStats(COUNTED_PATTERNS)
    init_patterns(app)  # the pool, the queue and the bulk route
    if mail_server is not None:
        app.extensions["debug_mail_server"] = mail_server
    app.register_blueprint(send.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    register_error_handlers(app)
    # Behind jupyter-server-proxy the app lives under a path such as /user/ana/proxy/5000/,
    # which the proxy strips and sends as X-Forwarded-Prefix: url_for then keeps every link
    # inside it. Only loopback clients reach the app; the one proxy hop in front is trusted.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_prefix=1)
    return app


# Imported last: the runner builds apps with create_app above.
from .measure import measure  # noqa: E402
from .runner import current, start, stop  # noqa: E402

# In a notebook, a cell run before the sandbox started says so in one line (see notebook.py).
if "IPython" in sys.modules:
    from . import notebook  # noqa: E402,F401

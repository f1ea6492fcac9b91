"""The sandbox's key: every request carries it (a header, or the cookie a `?key=` link sets), or gets 403."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from flask import Flask, Response, current_app, redirect, request
from werkzeug.exceptions import Forbidden

from ..addresses import KEY_HEADER, KEY_PARAMETER

MISSING_KEY = (
    "this sandbox belongs to someone else, or needs its key: open the link printed when it started "
    f"(it ends in ?{KEY_PARAMETER}=...), or send the {KEY_HEADER} header"
)


def cookie_name(key: str) -> str:
    """A cookie name of this key's own: two sandboxes on one host (cookies ignore ports) keep theirs apart."""
    return "sandbox_key_" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _matches(given: str | None, key: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), key.encode())


def check_key() -> Response | None:
    """before_request: let a request with the key through; trade a `?key=` link for a cookie; refuse the rest."""
    key = current_app.config["SANDBOX_KEY"]
    if key is None:  # --open: a laptop that wants plain URLs
        return None
    if _matches(request.headers.get(KEY_HEADER), key) or _matches(request.cookies.get(cookie_name(key)), key):
        return None
    if _matches(request.args.get(KEY_PARAMETER), key) and request.method in ("GET", "HEAD"):
        return _remember_key(key)
    raise Forbidden(MISSING_KEY)


def _remember_key(key: str) -> Response:
    """Set the cookie and send the browser to the same page without the key in its address (or history)."""
    others = [(name, value) for name, value in request.args.items(multi=True) if name != KEY_PARAMETER]
    # Relative to this very URL (its last segment): a proxy in front rewrites an absolute Location by adding its
    # own prefix again (jupyter-server-proxy does), and a relative one needs no prefix at all.
    target = (request.path.rsplit("/", 1)[-1] or "./") + (f"?{urlencode(others)}" if others else "")
    response = redirect(target, code=303)
    response.set_cookie(cookie_name(key), key, httponly=True, samesite="Strict", path=(request.script_root or "") + "/")
    return response


def init_access(app: Flask) -> None:
    """Require the key (app.config["SANDBOX_KEY"]; None leaves the app open) on every request, static files too."""
    app.config.setdefault("SANDBOX_KEY", None)
    app.before_request(check_key)

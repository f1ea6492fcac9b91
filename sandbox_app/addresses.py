"""How clients reach a sandbox: the header that carries its key, its URLs, the link a browser opens once."""

from __future__ import annotations

import os

LOOPBACK = "127.0.0.1"  # the only address the sandbox's servers listen on (IPv4: what Flask-Mail dials)
SMTP_USER = "sandbox"  # the debug mail server's one login; the password is the sandbox's key
KEY_HEADER = "X-Sandbox-Key"
KEY_PARAMETER = "key"
HUB_PREFIX_ENV = "JUPYTERHUB_SERVICE_PREFIX"  # set by JupyterHub in each learner's Jupyter server


def auth_headers(target) -> dict[str, str]:
    """The header every request to `target` (anything with a `.key`: a sandbox, a web process) must carry."""
    key = getattr(target, "key", None)
    return {KEY_HEADER: key} if key else {}


def browser_url(target) -> str:
    """The URL a learner's browser can open: through the hub's proxy on JupyterHub, else the app's own."""
    prefix = os.environ.get(HUB_PREFIX_ENV)
    if prefix:
        return f"{prefix.rstrip('/')}/proxy/{target.port}/"
    return target.url


def key_link(target, path: str = "") -> str:
    """A URL of the app a browser opens once to be let in: the key in it trades for a cookie."""
    key = getattr(target, "key", None)
    return browser_url(target) + path.lstrip("/") + (f"?{KEY_PARAMETER}={key}" if key else "")

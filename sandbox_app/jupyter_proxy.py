"""jupyter-server-proxy entry point: "Mail sandbox" in the JupyterLab launcher, at {base_url}sandbox/."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from .addresses import KEY_HEADER
from .config import KEY_ENV

ICON = Path(__file__).parent / "web" / "static" / "sandbox.svg"
# The same delay as `make sandbox`: long enough to see blocking, short enough to click through.
LAUNCHER_SMTP_DELAY = 0.3
# The first start imports Flask and aiosmtpd; on a classroom machine where thirty learners
# click at once that takes far longer than jupyter-server-proxy's default of 5 s.
START_TIMEOUT = 60.0


def setup_sandbox() -> dict:
    """The server jupyter-server-proxy starts on the first visit to {base_url}sandbox/."""
    # A key made here, known only to this learner's Jupyter server: its proxy adds it to every request to
    # {base_url}sandbox/, while another learner reaching the port through their own /proxy/<port>/ has none.
    key = secrets.token_urlsafe(18)
    return {
        # The interpreter running Jupyter: it has this package, or this entry point would not exist.
        # jupyter-server-proxy picks a free {port}; the mail server takes any free port too.
        "command": [
            sys.executable,
            "-m",
            "sandbox_app",
            "--port",
            "{port}",
            "--smtp-delay",
            str(LAUNCHER_SMTP_DELAY),
        ],
        "environment": {KEY_ENV: key},  # not in argv: every account on the machine can read that
        "request_headers_override": {KEY_HEADER: key},
        "timeout": START_TIMEOUT,
        "launcher_entry": {"title": "Mail sandbox", "icon_path": str(ICON), "category": "Other"},
        "new_browser_tab": True,  # DevTools belongs to a whole tab, not to a panel inside JupyterLab
    }

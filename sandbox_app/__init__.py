"""The sandbox: a Flask app that sends real mail with Flask-Mail, to study sending performance."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_exports

if TYPE_CHECKING:
    from .config import SandboxConfig
    from .runner import current, start, stop
    from .sandbox import Sandbox
    from .web.factory import create_app

# Where each name lives, imported on first use: a worker process imports sandbox_app.processes.* and the
# web app, and so never pays for the mail server, the runner and the servers it does not run.
_HOMES = {
    "Sandbox": ".sandbox", "SandboxConfig": ".config", "create_app": ".web.factory",
    "current": ".runner", "start": ".runner", "stop": ".runner",
}  # fmt: skip

__all__ = ["Sandbox", "SandboxConfig", "create_app", "current", "start", "stop"]
__getattr__, __dir__ = lazy_exports(__name__, _HOMES)

"""The sandbox: a Flask app that sends real mail with Flask-Mail, to study sending performance."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what editors and jedi follow (`sandbox_app.start` leads to runner.py); Python reads _HOMES
    from .config import SandboxConfig
    from .runner import current, start, stop
    from .sandbox import Sandbox
    from .web.factory import create_app

# Where each name lives, imported on first use (PEP 562): a worker process imports sandbox_app.processes.* and
# the web app, and a client process sandbox_app.measuring, and so never pay for the runner and the servers.
_HOMES = {
    "Sandbox": ".sandbox", "SandboxConfig": ".config", "create_app": ".web.factory",
    "current": ".runner", "start": ".runner", "stop": ".runner",
}  # fmt: skip

__all__ = ["Sandbox", "SandboxConfig", "create_app", "current", "start", "stop"]


def __getattr__(name: str):
    """A name of `_HOMES`, imported from its module when first asked for."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name], __name__), name)
    globals()[name] = value  # asked once: the next lookup finds it without coming here
    return value


def __dir__() -> list[str]:
    """The names above, with those not yet imported."""
    return sorted({*globals(), *_HOMES})

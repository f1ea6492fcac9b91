"""The sandbox: a Flask app that sends real mail with Flask-Mail, to study sending performance."""

from .config import SandboxConfig
from .runner import current, start, stop
from .sandbox import Sandbox
from .web.factory import create_app

__all__ = ["Sandbox", "SandboxConfig", "create_app", "current", "start", "stop"]

"""The sandbox: a Flask app that sends real mail with Flask-Mail, to study sending performance."""

from .runner import current, start, stop
from .web.factory import create_app

__all__ = ["create_app", "start", "stop", "current"]

"""The web app: its factory, the routes, request checks, JSON errors and the Server-Timing header."""

from .factory import create_app

__all__ = ["create_app"]

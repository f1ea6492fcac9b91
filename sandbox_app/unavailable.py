"""What this machine cannot run (no Redis, gunicorn on Windows): one error class, shown in one line in a notebook."""

from __future__ import annotations


class Unavailable(RuntimeError):
    """A part of the course this machine cannot run; the message says why and what to do instead."""

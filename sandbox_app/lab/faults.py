"""Faults for an experiment: the mail server's settings changed for a block, and background exceptions caught."""

from __future__ import annotations

import threading
from contextlib import contextmanager

from ..sandbox import Sandbox

REFUSE_EVERY_RECIPIENT = {"RCPT": {"code": 550, "message": "5.1.1 No such user here"}}
TRY_AGAIN_LATER = {"DATA": {"code": 451, "message": "4.3.0 Try again later"}}


@contextmanager
def mail_server_settings(sandbox: Sandbox, **changes):
    """Change the mail server's settings for a block, then put the old ones back (re-run safe)."""
    server = sandbox.mail_server
    saved = server.settings.to_dict()
    server.configure(**changes)
    try:
        yield server
    finally:
        server.configure(**saved)


@contextmanager
def thread_exceptions():
    """Collect what threading.excepthook would print to stderr, instead of printing it."""
    caught: list[threading.ExceptHookArgs] = []
    previous = threading.excepthook
    threading.excepthook = caught.append
    try:
        yield caught
    finally:
        threading.excepthook = previous

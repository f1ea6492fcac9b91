"""A slow resolver, simulated in this process: socket.getfqdn() waits, as it does where DNS is slow to answer."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def slow_resolver(seconds: float) -> Iterator[None]:
    """For the block, every socket.getfqdn() in this process (the app's, when it runs in this one) waits `seconds`.

    A simulation, and said so: the resolver itself is not touched. `email.utils.make_msgid` (called by every
    Flask-Mail Message()) and smtplib's EHLO name both call socket.getfqdn(), so both pay, as they would.
    """
    real = socket.getfqdn

    def slow(name: str = "") -> str:
        time.sleep(seconds)
        return real(name)

    socket.getfqdn = slow
    try:
        yield
    finally:
        socket.getfqdn = real

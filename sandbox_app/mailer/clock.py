"""The SMTP clock: how long this request waited for the mail server (Server-Timing reports it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter

from flask import g, has_request_context


@contextmanager
def smtp_clock() -> Iterator[None]:
    """Add the block's duration to this request's SMTP time; a background send has no request."""
    started = perf_counter()
    try:
        yield
    finally:
        # A thread with only an app context (a background send) has a g of its own and no
        # request: nothing to add, which is the point of sending in the background.
        if has_request_context():
            g.smtp_seconds = smtp_seconds() + perf_counter() - started


def smtp_seconds() -> float:
    """Seconds this request has waited for the mail server so far."""
    return g.get("smtp_seconds", 0.0)

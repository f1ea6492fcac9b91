"""The Server-Timing header: where a request spent its time, shown by the browser's DevTools."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter

from flask import Response, g, has_request_context

# What DevTools shows next to each entry (Network tab > the request > Timing > Server Timing).
SMTP_DESCRIPTION = "waiting for the mail server in this request"
APP_DESCRIPTION = "the rest of the view"


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
            g.smtp_seconds = g.get("smtp_seconds", 0.0) + perf_counter() - started


def start_clock() -> None:
    """Note when the request reached the app."""
    g.request_started = perf_counter()


def add_header(response: Response) -> Response:
    """Set `Server-Timing: smtp;dur=..., app;dur=...` (milliseconds) from this request's clocks."""
    started = g.get("request_started")
    if started is None:  # the clock never started: nothing honest to report
        return response
    total = perf_counter() - started
    smtp = g.get("smtp_seconds", 0.0)
    response.headers["Server-Timing"] = ", ".join(
        [
            f'smtp;dur={smtp * 1000:.1f};desc="{SMTP_DESCRIPTION}"',
            f'app;dur={max(total - smtp, 0.0) * 1000:.1f};desc="{APP_DESCRIPTION}"',
        ]
    )
    return response

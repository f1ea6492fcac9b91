"""The Server-Timing header: where a request spent its time, shown by the browser's DevTools."""

from __future__ import annotations

from time import perf_counter

from flask import Response, g

from ..mailer.seam import smtp_seconds

# What DevTools shows next to each entry (Network tab > the request > Timing > Server Timing).
SMTP_DESCRIPTION = "waiting for the mail server in this request"
APP_DESCRIPTION = "the rest of the view"


def start_clock() -> None:
    """Note when the request reached the app."""
    g.request_started = perf_counter()


def add_header(response: Response) -> Response:
    """Set `Server-Timing: smtp;dur=..., app;dur=...` (milliseconds) from this request's clocks."""
    started = g.get("request_started")
    if started is None:  # the clock never started: nothing honest to report
        return response
    total = perf_counter() - started
    smtp = smtp_seconds()
    response.headers["Server-Timing"] = ", ".join(
        [
            f'smtp;dur={smtp * 1000:.3f};desc="{SMTP_DESCRIPTION}"',  # microseconds: a view's own work is often under 0.1 ms
            f'app;dur={max(total - smtp, 0.0) * 1000:.3f};desc="{APP_DESCRIPTION}"',
        ]
    )
    return response

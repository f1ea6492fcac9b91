"""The send route: POST /send/<pattern> validates the request and hands the message to a pattern."""

from flask import Blueprint, abort, current_app, request

from .compose import parse_email_request
from .patterns import PATTERNS

bp = Blueprint("send", __name__)


@bp.get("/ping")
def ping():
    """Do nothing: the baseline every latency is compared with."""
    return {"pong": True}


@bp.post("/send/<pattern>")
def send(pattern):
    """Send one email with the named pattern; 200 when sent, 202 when left to the background."""
    if pattern not in PATTERNS:
        abort(404, f"unknown pattern {pattern!r}; choose one of: {', '.join(PATTERNS)}")
    email = parse_email_request(request)
    msg = email.to_message()
    app = current_app._get_current_object()  # the real app, not the proxy: a thread must carry it
    app.extensions["sandbox_stats"].accepted(pattern)
    status = PATTERNS[pattern](app, msg)
    return {"pattern": pattern, "to": email.to, "status": "sent" if status == 200 else "accepted"}, status

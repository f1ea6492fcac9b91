"""The send route: POST /send/<pattern> validates the request and hands the message to a pattern."""

from flask import Blueprint, abort, current_app, request

from .. import patterns
from ..mailer.seam import handing_over
from . import server_timing
from .compose import parse_email_request

bp = Blueprint("send", __name__)

# Each pattern as this route calls it: through the seam, which counts the message as accepted and tags it with
# the pattern's name, so that Flask-Mail's send counts it as delivered or failed (mailer/seam.py says how).
PATTERNS = {name: handing_over(name, send_email) for name, send_email in patterns.PATTERNS.items()}
ASYNC_PATTERNS = {name: handing_over(name, send_email) for name, send_email in patterns.ASYNC_PATTERNS.items()}
GREENLET_PATTERNS = {name: handing_over(name, send_email) for name, send_email in patterns.GREENLET_PATTERNS.items()}


def timed() -> bool:
    """Whether this response gets a Server-Timing header: /ping and every /send/* (errors too)."""
    return request.blueprint == bp.name or request.path.startswith("/send/")


@bp.before_app_request
def start_server_timing():
    """Start this request's clock (app-wide, so a 405 on /send/x is timed too)."""
    if timed():
        server_timing.start_clock()


@bp.after_app_request
def add_server_timing(response):
    """Tell the browser where the time went: `smtp` (the mail server) and `app` (the rest)."""
    return server_timing.add_header(response)  # only requests whose clock started get the header


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
    status = PATTERNS[pattern](app, msg)
    return {"pattern": pattern, "to": email.to, "status": "sent" if status == 200 else "accepted"}, status


async def send_async(pattern):
    """Send one email with an `async def` view: 200 when the awaited send is done, 202 when left to a task."""
    email = parse_email_request(request)
    msg = email.to_message()
    app = current_app._get_current_object()
    status = await ASYNC_PATTERNS[pattern](app, msg)
    return {"pattern": pattern, "to": email.to, "status": "sent" if status == 200 else "accepted"}, status


def send_greenlet(pattern):
    """Send one email from a spawned greenlet: 202 at once; 409 where no greenlet would ever run."""
    if not patterns.greenlet.greenlets_run_here():
        abort(409, f"POST /send/{pattern} needs gunicorn's gevent worker (python -m sandbox_app --server "
                   "gunicorn-gevent): under this server nothing monkey-patched socket, so nothing ever yields to "
                   "gevent's hub after the view returns, and a spawned greenlet would never send")  # fmt: skip
    email = parse_email_request(request)
    status = GREENLET_PATTERNS[pattern](current_app._get_current_object(), email.to_message())
    return {"pattern": pattern, "to": email.to, "status": "accepted"}, status


# Static rules: werkzeug tries them before /send/<pattern>.
for _name in ASYNC_PATTERNS:
    bp.add_url_rule(f"/send/{_name}", view_func=send_async, methods=["POST"], defaults={"pattern": _name})
for _name in GREENLET_PATTERNS:
    bp.add_url_rule(f"/send/{_name}", view_func=send_greenlet, methods=["POST"], defaults={"pattern": _name})

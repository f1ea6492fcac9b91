"""The sending patterns: each module's `send_email(app, msg)` sends and returns the HTTP status."""

from functools import partial

from ..mailer.background import get_background
from ..mailer.outcomes import record_failure
from ..queues.registry import init_queues, queue_senders
from . import async_view, blocking, greenlet, pool, threaded

# One message per request (POST /send/<pattern>): the page's buttons and the bench's rows; the queues'
# from their backends (sandbox_app.queues).
PATTERNS = {
    "blocking": blocking.send_email,
    "threaded": threaded.send_email,
    "pool": pool.send_email,
    **queue_senders(),
}
# `async def` views (POST /send/async, /send/async-nowait): Flask runs each in an event loop of its own.
ASYNC_PATTERNS = {
    "async": async_view.send_email,
    "async-nowait": async_view.send_email_nowait,
}
# Flask's gevent recipe (POST /send/gevent): only under gunicorn's gevent worker, where a spawned greenlet runs.
GREENLET_PATTERNS = {"gevent": greenlet.send_email}
# Every pattern /api/stats counts: the ones above, and bulk (many messages per request, POST /send/bulk).
COUNTED_PATTERNS = [*PATTERNS, *ASYNC_PATTERNS, *GREENLET_PATTERNS, "bulk"]


def init_app(app) -> None:
    """Give the app what the patterns own: the pool, and the queues (Huey; Celery and RQ on a Redis started when used)."""
    mail_pool = pool.init_app(app)
    get_background(app).on_stop(partial(drain_pool, app, mail_pool))
    init_queues(app)


def drain_pool(app, mail_pool: pool.MailPool) -> None:
    """Let the pool's queued sends finish; each send it had to cancel is counted as failed, never silently gone."""
    for _ in mail_pool.drain(app.config["MAIL_POOL_DRAIN_TIMEOUT"]):
        record_failure("pool", "cancelled: the app stopped before this mail was sent", app)

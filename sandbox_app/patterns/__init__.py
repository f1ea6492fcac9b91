"""The sending patterns: each module's `send_email(app, msg)` sends and returns the HTTP status."""

from functools import partial

from ..mailer.background import get_background
from ..mailer.outcomes import record_failure
from ..queue.broker import init_broker
from ..queue.mailqueue import init_queue
from . import async_view, blocking, celery_queue, pool, queue, rq_queue, threaded

# One message per request (POST /send/<pattern>): the page's buttons and the bench's rows.
PATTERNS = {
    "blocking": blocking.send_email,
    "threaded": threaded.send_email,
    "pool": pool.send_email,
    "queue": queue.send_email,
    "celery": celery_queue.send_email,
    "rq": rq_queue.send_email,
}
# `async def` views (POST /send/async, /send/async-nowait): Flask runs each in an event loop of its own.
ASYNC_PATTERNS = {
    "async": async_view.send_email,
    "async-nowait": async_view.send_email_nowait,
}
# Every pattern /api/stats counts: the ones above, and bulk (many messages per request, POST /send/bulk).
COUNTED_PATTERNS = [*PATTERNS, *ASYNC_PATTERNS, "bulk"]


def init_app(app) -> None:
    """Give the app what the patterns own: the pool, the Huey queue, and Celery and RQ on a Redis started when used."""
    mail_pool = pool.init_app(app)
    get_background(app).on_stop(partial(drain_pool, app, mail_pool))
    mail_queue = init_queue(app, queue.deliver)
    config = app.config
    config["CELERY"] = {**celery_queue.default_settings(mail_queue.name), **config.get("CELERY", {})}
    config.setdefault("RQ_QUEUE", f"{mail_queue.name}-rq")
    config.setdefault("QUEUE_SEND_ONCE", False)  # lesson 12: skip a redelivered mail already sent
    config.setdefault("QUEUE_TASK_TAIL", 0.0)  # lesson 12: seconds of other work a task does after its send
    init_broker(app)
    celery_queue.celery_init_app(app)


def drain_pool(app, mail_pool: pool.MailPool) -> None:
    """Let the pool's queued sends finish; each send it had to cancel is counted as failed, never silently gone."""
    for _ in mail_pool.drain(app.config["MAIL_POOL_DRAIN_TIMEOUT"]):
        record_failure("pool", "cancelled: the app stopped before this mail was sent", app)

"""The JSON API: the captured inbox, delivery stats and the mail server's live settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, abort, current_app, request

from ..database.outbox_state import queues_outbox
from ..mailer.stats import get_stats
from ..queues.registry import queues_state
from ..smtp.settings import SettingsError
from .mail_server import attached_mail_server

if TYPE_CHECKING:  # the mail server's code (aiosmtpd, TLS) stays out of the workers, which never run it
    from ..smtp.server import DebugMailServer

bp = Blueprint("api", __name__, url_prefix="/api")


LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX = 100, 1000


def list_limit(limit: str, most: int) -> int:
    """`?limit=` as a number from 1 to `most`; a 400 saying so for anything else."""
    # isdecimal() alone would accept "٣" (int() reads it) and a huge number of digits: keep it ASCII and short.
    if not (limit.isascii() and limit.isdecimal() and len(limit) <= 4 and 1 <= int(limit) <= most):
        abort(400, f"'limit' must be a whole number from 1 to {most}, got {limit!r}")
    return int(limit)


@bp.get("/messages")
def list_messages():
    """The newest `limit` messages held, newest first, with how many are held and were captured in all."""
    server = attached_mail_server()
    limit = list_limit(request.args.get("limit", str(LIST_LIMIT_DEFAULT)), LIST_LIMIT_MAX)
    messages = [m.to_dict() for m in server.newest(limit)]
    return {"count": server.count, "total": server.total, "messages": messages}


@bp.delete("/messages")
def clear_messages():
    """Empty the captured inbox."""
    return {"deleted": attached_mail_server().clear()}


@bp.get("/stats")
def read_stats():
    """Per pattern: accepted, delivered, failed, retried, last error."""
    return get_stats().snapshot()


@bp.delete("/stats")
def reset_stats():
    """Start every pattern's counters from zero."""
    get_stats().reset()
    return get_stats().snapshot()


def smtp_state(server: DebugMailServer) -> dict:
    """The mail server's address, settings and counters as JSON-ready data."""
    return {"address": server.address, "settings": server.settings.to_dict(), "counters": server.counters()}


@bp.get("/smtp")
def get_smtp():
    """The debug mail server's live settings and counters."""
    return smtp_state(attached_mail_server())


@bp.put("/smtp")
def put_smtp():
    """Change some settings (the keys given), e.g. {"delay": 0.3}; 400 names a bad key."""
    server = attached_mail_server()
    changes = request.get_json(silent=True)
    if not isinstance(changes, dict):
        abort(400, 'send a JSON object of settings, e.g. {"delay": 0.3}')
    try:
        server.configure(**changes)
    except SettingsError as error:
        abort(400, str(error))
    return smtp_state(server)


@bp.get("/queue")
def get_queue_state():
    """Huey's queue (name, storage, mail waiting, consumer), Celery's and RQ's under `redis_queues`, and every
    queue under `queues` (its backend, waiting, oldest_age_s, in_flight, retries_scheduled, failed, workers),
    the outbox too."""
    state = queues_state()
    state["queues"]["outbox"] = queues_outbox(current_app)
    return state

"""The outbox in GET /api/queue's `queues`, beside each queue backend: its mail waiting, the oldest one's age, ..."""

from __future__ import annotations

import time

from flask import Flask
from sqlalchemy import case, func, select

from ..queues.backend import launcher, unavailable
from .models import OutboxMail, db
from .relays import get_relays


def queues_outbox(app: Flask) -> dict:
    """GET /api/queue's `queues.outbox`; in an app process of its own, the launcher's answer (it runs the relays)."""
    client = launcher(app)
    if client is None:
        return outbox_state(app, time.time())
    try:
        return client.call("outbox.state")
    except OSError as error:
        raise unavailable(error) from None


def outbox_state(app: Flask, now: float) -> dict:
    """`queues.outbox`: rows waiting for a relay, the oldest one's age, claimed and not handed over yet (in flight),
    waiting for their retry after a failed hand-over, and given up on; and the relay processes.

    Each row records when it was written (`created_at`), so the oldest age needs no stamp of its own.
    """
    lease = app.config["OUTBOX_LEASE_SECONDS"]
    mail = OutboxMail
    waiting = mail.claimable(now, lease)
    in_flight = mail.unsent() & mail.claimed_at.is_not(None) & (mail.claimed_at >= now - lease)
    scheduled = mail.unsent() & mail.claimed_at.is_(None) & (mail.available_at > now)

    def count(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    query = select(
        count(waiting), func.min(case((waiting, mail.created_at))), count(in_flight), count(scheduled),
        count(mail.failed_at.is_not(None)),
    )  # fmt: skip
    with app.app_context():
        waiting_count, oldest, in_flight_count, scheduled_count, failed = db.session.execute(query).one()
        db.session.remove()
    return {
        "backend": "outbox",
        "waiting": int(waiting_count),
        "oldest_age_s": round(max(0.0, now - oldest), 3) if oldest is not None else None,
        "in_flight": int(in_flight_count),
        "retries_scheduled": int(scheduled_count),
        "failed": int(failed),
        "workers": [{"pid": process.pid, "threads": 1} for process in get_relays(app).running()],
    }

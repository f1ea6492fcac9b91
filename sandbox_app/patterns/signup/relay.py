"""The outbox relay: claim rows waiting in the outbox, hand each to its queue, mark them handed over.

Between the hand-over and the mark is the relay's window: a relay killed there has handed the mail over, and the
row comes back (after its claim's lease) to be handed over again, with the same Message-ID. The marks of a claim
are one write: on SQLite the web process's sign-ups wait for every write of the relay.
"""

from __future__ import annotations

import os
import time

from flask import current_app
from sqlalchemy import Row, select, update

from ...database import OutboxMail, db
from ...mailer.as_data import message_from
from ...mailer.outcomes import describe_error
from ...queues.registry import hand_over

BATCH = 10
MAX_ATTEMPTS = 5  # hand-overs tried (the queue's storage down) before a row is given up on
RETRY_DELAY = 1.0  # seconds before the next hand-over of a row that failed; doubled each time


def claim_skip_locked(batch: int, now: float) -> list[Row]:
    """PostgreSQL: claim up to `batch` rows; FOR UPDATE SKIP LOCKED passes over rows another relay is claiming."""
    lease = current_app.config["OUTBOX_LEASE_SECONDS"]
    waiting = (
        select(OutboxMail.id).where(OutboxMail.claimable(now, lease))
        .order_by(OutboxMail.id).limit(batch).with_for_update(skip_locked=True)
    )  # fmt: skip
    claim = (
        update(OutboxMail).where(OutboxMail.id.in_(waiting)).values(claimed_at=now, claimed_by=os.getpid())
        .returning(OutboxMail.id, OutboxMail.queue, OutboxMail.message)
    )  # fmt: skip
    return db.session.execute(claim).all()


def claim_returning(batch: int, now: float) -> list[Row]:
    """SQLite: the same UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING, without FOR UPDATE SKIP LOCKED.

    SQLite has no row locks to skip: one writer at a time holds the whole file. So one relay claims, alone.
    """
    lease = current_app.config["OUTBOX_LEASE_SECONDS"]
    waiting = select(OutboxMail.id).where(OutboxMail.claimable(now, lease)).order_by(OutboxMail.id).limit(batch)
    claim = (
        update(OutboxMail).where(OutboxMail.id.in_(waiting)).values(claimed_at=now, claimed_by=os.getpid())
        .returning(OutboxMail.id, OutboxMail.queue, OutboxMail.message)
    )  # fmt: skip
    return db.session.execute(claim).all()


CLAIMS = {"postgresql": claim_skip_locked, "sqlite": claim_returning}


def relay_once(batch: int = BATCH) -> int:
    """Claim waiting rows, hand each mail to its queue, mark them handed over; how many rows were claimed."""
    rows = CLAIMS[db.engine.dialect.name](batch, time.time())
    db.session.commit()  # the claim is ours: other relays pass over these rows until the lease runs out
    handed = []
    for row in rows:
        try:
            hand_over(row.queue, message_from(row.message))  # to Huey, Celery or RQ, by its pattern name
        except Exception as error:
            give_back(row.id, error)
        else:
            handed.append(row.id)
    mark_handed_over(handed)  # killed just before this line, the relay hands these mails over again later
    db.session.commit()  # one write for the batch: the web process's sign-ups wait for each
    return len(rows)


def mark_handed_over(row_ids: list[int]) -> None:
    """These rows' mail is in its queue now."""
    if row_ids:
        db.session.execute(update(OutboxMail).where(OutboxMail.id.in_(row_ids)).values(handed_over_at=time.time()))


def give_back(row_id: int, error: Exception) -> None:
    """The queue did not take the mail: try again later (waiting twice as long each time), or give up."""
    row = db.session.get(OutboxMail, row_id)
    row.attempts += 1
    row.claimed_at = row.claimed_by = None
    row.last_error = describe_error(error)
    if row.attempts >= MAX_ATTEMPTS:
        row.failed_at = time.time()
        current_app.logger.warning("outbox: mail %s not handed over, given up: %s", row.message_id, row.last_error)
    else:
        row.available_at = time.time() + RETRY_DELAY * 2 ** (row.attempts - 1)

"""The bench's sign-up rows: `signup-<way>` (Huey behind a queued way), `signup-<way>-celery`, `signup-<way>-rq`.

Each request signs a new address up, so that none is refused as a duplicate (409), even on a database kept
between runs; its welcome mail is found in the mail server by its address.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ..patterns.signup import QUEUED_WAYS, WAYS
from ..queues.registry import BACKENDS, FIRST_QUEUE
from .client import call

PREFIX = "signup-"
WELCOME_SUBJECT = "Welcome!"  # patterns/signup/welcome.py's welcome_message


@dataclass(frozen=True)
class SignupRow:
    """What a `signup-...` name measures: a way, and the queue behind it (None: inline sends in the request)."""

    way: str
    via: str | None

    @property
    def path(self) -> str:
        """The route the bench's clients POST to."""
        return f"signup/{self.way}" + (f"?via={self.via}" if self.via else "")


def signup_rows() -> dict[str, SignupRow]:
    """Every sign-up name `--patterns` takes: `signup-<way>` (Huey behind a queued way), `signup-<way>-<queue>`."""
    rows = {}
    for way in WAYS:
        for via in BACKENDS if way in QUEUED_WAYS else [None]:
            rows[PREFIX + way + (f"-{via}" if via not in (None, FIRST_QUEUE) else "")] = SignupRow(way, via)
    return rows


SIGNUP_ROWS = signup_rows()


def new_signups(label: str, count: int) -> list[dict]:
    """`count` sign-up bodies, each with an address of this run's own."""
    run = secrets.token_hex(4)
    return [{"email": f"{label}-{number}-{run}@example.com", "name": f"Reader {number}"} for number in range(count)]


def welcomed(sandbox, emails: set[str]) -> int:
    """How many of these addresses the mail server has received a welcome mail for."""
    received = {to for m in sandbox.mail_server.messages if m.subject == WELCOME_SUBJECT for to in m.rcpt_tos}
    return len(emails & received)


@dataclass(frozen=True)
class NotDelivered:
    """A sign-up row's welcome mails not delivered yet: still queued, and failed for good."""

    queued: int
    failed: int


def not_delivered(sandbox, row: SignupRow) -> NotDelivered:
    """The mail the row's queue holds (waiting, taken, waiting for a retry) with the outbox's rows not handed over
    yet; and the mail failed for good: tasks the queue gave up on (one that found no user), outbox rows given up on."""
    if row.via is None:  # inline: sent before the answer; a refused send rolls the sign-up back (502)
        return NotDelivered(0, 0)
    queues = call(sandbox, "GET", "api/queue").json["queues"]
    held = [queues[row.via]] + ([queues["outbox"]] if row.way == "outbox" else [])
    return NotDelivered(
        queued=sum(queue["waiting"] + queue["in_flight"] + queue["retries_scheduled"] for queue in held),
        failed=sandbox.stats.snapshot()[row.via]["failed"] + (queues["outbox"]["failed"] if row.way == "outbox" else 0),
    )

"""The commit gate: hold every commit of the app's sessions, as the debug mail server's `hold()` holds a message.

Held before the commit (`at="before-commit"`, SQLAlchemy's `before_commit` event), it makes the in-transaction
race happen on every run: the request has handed the task to the queue and waits, its transaction open, while the
worker looks for a user that is not committed yet. Held after it (`at="after-commit"`, the first `after_commit`
listener, before the after-commit way's callbacks), it holds the request between its COMMIT and its enqueue, where
a lesson kills the web process. Nothing in the taught code calls it: it waits beneath `db.session.commit()`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..mailer.stats import get_stats

EXTENSION = "sandbox_commit_gate"
POLL_SECONDS = 0.01
POINTS = ("before-commit", "after-commit")


class CommitGate:
    """While held, each commit waits (inside the transaction) until `release()`, or until `until()` is true for it.

    `until` suits SQLite, where a transaction waiting at the gate holds the one write lock: the others wait for it,
    so each commit must be let through on its own (say, once the worker ran the task it handed over).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._released.set()
        self._until: Callable[[], bool] | None = None
        self._timeout = 0.0
        self._waiting = 0
        self.at = POINTS[0]
        self.passed = 0  # commits that waited at the gate since it was last held

    def hold(self, until: Callable[[], bool] | None = None, timeout: float = 30.0, at: str = "before-commit") -> None:
        """Hold each commit `at` one of POINTS until `release()`, or until `until()` returns true (each commit at
        most `timeout` s); ValueError for another point."""
        if at not in POINTS:
            raise ValueError(f"the gate holds commits at {' or '.join(POINTS)}, not {at!r}")
        with self._lock:
            self._until, self._timeout, self.at, self.passed = until, timeout, at, 0
            self._released.clear()

    def release(self) -> None:
        """Let every held commit (and every later one) through."""
        self._released.set()

    @contextmanager
    def holding(
        self, until: Callable[[], bool] | None = None, timeout: float = 30.0, at: str = "before-commit"
    ) -> Iterator[CommitGate]:
        """`with gate.holding():` hold the commits, and let them through on leaving the block, failed or not."""
        self.hold(until, timeout, at)
        try:
            yield self
        finally:
            self.release()

    @property
    def held(self) -> bool:
        """Whether commits wait at the gate."""
        return not self._released.is_set()

    @property
    def waiting(self) -> int:
        """How many commits wait at the gate now."""
        return self._waiting

    def to_dict(self) -> dict:
        """The gate as JSON-ready data: held, where, how many commits wait at it and passed it."""
        return {"held": self.held, "at": self.at, "waiting": self.waiting, "passed": self.passed}

    def pass_gate(self, point: str) -> None:
        """At `point`: return at once, or (held there) once released, `until()` is true, or the timeout has passed."""
        if not self.held or point != self.at:
            return
        until, deadline = self._until, time.monotonic() + self._timeout
        with self._lock:
            self._waiting += 1
        try:
            while not self._released.wait(POLL_SECONDS) and time.monotonic() < deadline:
                if until is not None and until():
                    break
        finally:
            with self._lock:
                self._waiting -= 1
                self.passed += 1


def wait_at_gate(point: str) -> None:
    """Pass the current app's gate at `point`, if the gate is held there."""
    if has_app_context():
        gate = current_app.extensions.get(EXTENSION)
        if gate is not None:
            gate.pass_gate(point)


# Every session, of every app: the gate is the current app's.
event.listen(Session, "before_commit", lambda session: wait_at_gate("before-commit"))
# First among the after_commit listeners: before the after-commit way's callbacks queue anything.
event.listen(Session, "after_commit", lambda session: wait_at_gate("after-commit"), insert=True)


def init_gate(app: Flask) -> CommitGate:
    """Give the app its commit gate, passed by every commit of its sessions (open until held)."""
    app.extensions[EXTENSION] = CommitGate()
    return app.extensions[EXTENSION]


def get_gate(app: Flask | None = None) -> CommitGate:
    """The app's commit gate (the current app's when none is given)."""
    return (app or current_app).extensions[EXTENSION]


def tasks_settled(pattern: str, app: Flask | None = None) -> Callable[[], bool]:
    """A condition for `hold(until=...)`: every task handed to the queue `pattern` has ended, sent or failed for good.

    With it each commit waits until the worker has run the task its request queued: the worker has looked.
    """
    stats = get_stats(app)

    def settled() -> bool:
        counts = stats.snapshot().get(pattern)
        return counts is not None and counts["delivered"] + counts["failed"] >= counts["accepted"]

    return settled

"""Per-pattern delivery counters: accepted, delivered, failed, retried, last error."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Protocol

from flask import Flask, current_app

from .shared_stats import SqliteCounters

EXTENSION = "sandbox_stats"


@dataclass
class PatternCounters:
    """What happened to the mail one sending pattern was given."""

    accepted: int = 0
    delivered: int = 0
    failed: int = 0
    retried: int = 0
    last_error: str | None = None


class SharedCounters(Protocol):
    """Counters kept outside this process, e.g. in the queue's storage (see queue.counters.StoredCounters)."""

    def count(self, field: str, error: str | None = None) -> None: ...

    def read(self) -> dict: ...

    def reset(self) -> None: ...


class DeliveryStats:
    """Thread-safe counters for every sending pattern (requests and mail threads update them)."""

    def __init__(self, patterns: list[str]) -> None:
        self._patterns = list(patterns)
        self._lock = threading.Lock()
        self._counters = {name: PatternCounters() for name in self._patterns}
        self._shared: dict[str, SharedCounters] = {}

    def share(self, pattern: str, store: SharedCounters) -> None:
        """Keep this pattern's counters in `store`, which other processes update too (the queue's consumers)."""
        self._shared[pattern] = store

    def _count(self, pattern: str, field: str, error: str | None = None) -> None:
        if pattern in self._shared:
            self._shared[pattern].count(field, error)
            return
        with self._lock:
            counters = self._counters[pattern]
            setattr(counters, field, getattr(counters, field) + 1)
            if error is not None:
                counters.last_error = error

    def accepted(self, pattern: str) -> None:
        """A request handed this pattern a valid message."""
        self._count(pattern, "accepted")

    def delivered(self, pattern: str) -> None:
        """The mail server accepted a message sent by this pattern."""
        self._count(pattern, "delivered")

    def failed(self, pattern: str, error: str) -> None:
        """A message sent by this pattern is lost for good."""
        self._count(pattern, "failed", error)

    def retried(self, pattern: str, error: str) -> None:
        """A send failed and will be tried again."""
        self._count(pattern, "retried", error)

    def snapshot(self) -> dict[str, dict]:
        """The counters as JSON-ready data, keyed by pattern."""
        with self._lock:
            snapshot = {name: asdict(counters) for name, counters in self._counters.items()}
        for name, store in self._shared.items():
            snapshot[name] = store.read()
        return snapshot

    def reset(self) -> None:
        """Start every counter from zero."""
        with self._lock:
            self._counters = {name: PatternCounters() for name in self._patterns}
        for store in self._shared.values():
            store.reset()


def init_stats(app: Flask, patterns: list[str]) -> DeliveryStats:
    """Give the app its delivery counters, one set per pattern; in the STATS_PATH SQLite file when it is set.

    An app served by several processes (gunicorn's workers) sets STATS_PATH: each process's own counters
    would see only its share of the requests.
    """
    stats = DeliveryStats(patterns)
    path = app.config.setdefault("STATS_PATH", None)
    if path:
        for pattern in patterns:
            stats.share(pattern, SqliteCounters(path, pattern))
    app.extensions[EXTENSION] = stats
    return stats


def get_stats(app: Flask | None = None) -> DeliveryStats:
    """The app's delivery counters (the current app's when none is given)."""
    return (app or current_app).extensions[EXTENSION]

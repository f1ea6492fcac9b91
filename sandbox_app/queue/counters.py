"""The queue pattern's counters, kept in the queue's storage so that every process counts into one place."""

from __future__ import annotations

from huey.constants import EmptyData
from huey.storage import BaseStorage, RedisStorage, SqliteStorage

from .storage import STORAGE_ERRORS, unavailable

COUNTER_FIELDS = ("accepted", "delivered", "failed", "retried")


def read_counters(storage: BaseStorage) -> dict[str, int]:
    """Every counter of the queue in one read (incr(key, 0) would take SQLite's write lock per key)."""
    if isinstance(storage, SqliteStorage):
        rows = storage.sql("select key, value from counter where queue = ?", (storage.name,), results=True)
        return dict(rows)
    if isinstance(storage, RedisStorage):
        return {key.decode(): int(value) for key, value in storage.conn.hgetall(storage.counter_key).items()}
    return {field: storage.incr(field, 0) for field in COUNTER_FIELDS}


class StoredCounters:
    """The queue pattern's counters, kept in the queue's storage so the consumer processes count too."""

    def __init__(self, mail_queue) -> None:
        self._queue = mail_queue

    def count(self, field: str, error: str | None = None) -> None:
        """Add one to `field` (atomic across processes); remember the error."""
        storage = self._queue.storage
        try:
            storage.incr(field)
            if error is not None:
                storage.put_data("last_error", error.encode())
        except STORAGE_ERRORS as storage_error:
            raise unavailable(storage_error) from None

    def read(self) -> dict:
        """The counters as in DeliveryStats; when the storage is down, None counts and the reason."""
        if not self._queue.exists():
            return {**dict.fromkeys(COUNTER_FIELDS, 0), "last_error": None}  # nothing queued yet: no file to make
        storage = self._queue.storage
        try:
            stored = read_counters(storage)
            last_error = storage.peek_data("last_error")
        except STORAGE_ERRORS as error:
            return {
                **dict.fromkeys(COUNTER_FIELDS),
                "last_error": f"queue unavailable: {type(error).__name__}: {error}",
            }
        counters: dict = {field: stored.get(field, 0) for field in COUNTER_FIELDS}
        counters["last_error"] = None if last_error is EmptyData else bytes(last_error).decode()
        return counters

    def reset(self) -> None:
        """Start from zero (for every process sharing this queue)."""
        if not self._queue.exists():
            return  # nothing counted yet, and no file to make for it
        storage = self._queue.storage
        try:
            storage.flush_counters()
            storage.delete_data("last_error")
        except STORAGE_ERRORS as error:
            raise unavailable(error) from None

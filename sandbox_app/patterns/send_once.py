"""A consumer that sends once: each delivered Message-ID is marked, and a redelivered task whose mail went out is skipped.

Checked before the send, marked after it. The window, honestly: a task that dies (or whose reply comes
late) between the send and the mark has no mark, and its redelivery sends the mail again.
"""

from __future__ import annotations

MARK_SECONDS = 7 * 24 * 3600  # how long a mark is kept: longer than any redelivery can come


class RedisGuard:
    """Marks in Redis: `SET sent:<Message-ID> 1 NX EX <seconds>` after the send, `EXISTS` before it."""

    def __init__(self, redis, prefix: str = "sent:") -> None:
        self.redis, self.prefix = redis, prefix

    def already_sent(self, message_id: str) -> bool:
        """Whether a copy of this mail was delivered and marked."""
        return bool(self.redis.exists(self.prefix + message_id))

    def mark(self, message_id: str) -> None:
        """Note that this mail was delivered (NX: the first mark stays; EX: it expires)."""
        self.redis.set(self.prefix + message_id, 1, nx=True, ex=MARK_SECONDS)

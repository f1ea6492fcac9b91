"""The debug mail server's inbox: the newest captured messages (bounded), thread-safe, with waiting."""

from __future__ import annotations

import mailbox
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from email import message_from_bytes, policy
from pathlib import Path

DEFAULT_MAX_MESSAGES = 1000  # held in memory; a Maildir, when configured, keeps every one


@dataclass(frozen=True)
class CapturedMessage:
    """One message as the debug mail server received it."""

    id: int
    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    body: str
    headers: tuple[tuple[str, str], ...]
    size: int
    received_at: float

    @classmethod
    def parse(cls, id: int, mail_from: str, rcpt_tos: list[str], raw: bytes, received_at: float) -> CapturedMessage:
        """Build a captured message from the SMTP envelope and the raw DATA bytes."""
        message = message_from_bytes(raw, policy=policy.default)
        text_part = message.get_body(preferencelist=("plain",))
        body = text_part.get_content() if text_part is not None else ""
        body = body.replace("\r\n", "\n")  # SMTP line endings, shown as text
        return cls(
            id=id,
            mail_from=mail_from,
            rcpt_tos=tuple(rcpt_tos),
            subject=str(message.get("Subject", "")),
            body=body,
            headers=tuple((name, str(value)) for name, value in message.items()),
            size=len(raw),
            received_at=received_at,
        )

    def header(self, name: str) -> str | None:
        """A header's value (the first, whatever its capitalisation), or None: e.g. header("Message-ID")."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def to_dict(self) -> dict:
        """The message as JSON-ready data."""
        data = asdict(self)
        data["rcpt_tos"] = list(self.rcpt_tos)
        data["headers"] = [list(pair) for pair in self.headers]
        return data


class MessageStore:
    """The newest `max_messages` captured messages in arrival order; optionally every one also in a Maildir folder."""

    def __init__(self, maildir: str | Path | None = None, max_messages: int = DEFAULT_MAX_MESSAGES) -> None:
        # Held newest last; a full deque drops its oldest on append, in O(1). An entry stays a raw tuple until
        # first read: the SMTP reply need not wait for parsing, and a message dropped unread is never parsed.
        self._entries: deque[CapturedMessage | tuple] = deque(maxlen=_limit(max_messages))
        self._total = 0  # captured since the start or the last clear(), dropped ones included
        self._next_id = 1
        self._changed = threading.Condition()
        self._maildir = mailbox.Maildir(maildir, create=True) if maildir else None

    def add(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> int:
        """Capture one message (dropping the oldest when full), wake everyone waiting, and return its id."""
        received_at = time.time()
        with self._changed:
            message_id = self._next_id
            self._next_id += 1
            self._total += 1
            self._entries.append((message_id, mail_from, list(rcpt_tos), raw, received_at))
            if self._maildir is not None:
                self._maildir.add(raw)  # the Maildir keeps every message: only the memory is bounded
            self._changed.notify_all()
        return message_id

    def _newest(self, limit: int | None = None) -> list[CapturedMessage]:
        """The newest `limit` held (all when None), newest first, parsed in place (call with the lock held)."""
        entries = self._entries
        count = len(entries) if limit is None else min(limit, len(entries))
        shown = []
        # Indexing a deque near its right end is cheap, so a page of the newest parses only that page.
        for back in range(1, count + 1):
            entry = entries[-back]
            if isinstance(entry, tuple):
                entry = entries[-back] = CapturedMessage.parse(*entry)
            shown.append(entry)
        return shown

    @property
    def max_messages(self) -> int:
        """How many messages are held at most; lowering it drops the oldest at once."""
        return self._entries.maxlen

    @max_messages.setter
    def max_messages(self, value: int) -> None:
        with self._changed:
            self._entries = deque(self._entries, maxlen=_limit(value))  # keeps the newest

    @property
    def total(self) -> int:
        """Messages captured since the start or the last clear(), including those no longer held."""
        with self._changed:
            return self._total

    @property
    def count(self) -> int:
        """Messages held now (at most max_messages)."""
        return len(self)

    def all(self) -> list[CapturedMessage]:
        """A snapshot of the messages held, oldest first."""
        with self._changed:
            return self._newest()[::-1]

    def newest(self, limit: int | None = None) -> list[CapturedMessage]:
        """The newest `limit` messages held (all when None), newest first."""
        with self._changed:
            return self._newest(limit)

    def __len__(self) -> int:
        with self._changed:
            return len(self._entries)

    def clear(self) -> int:
        """Forget every captured message and restart the total (the Maildir copy stays); return how many were held."""
        with self._changed:
            count = len(self._entries)
            self._entries.clear()
            self._total = 0
            self._changed.notify_all()
            return count

    def wait_for(self, count: int, timeout: float = 10.0) -> list[CapturedMessage]:
        """Block until at least `count` messages were captured in total; return those held, oldest first."""
        with self._changed:
            # The total, not the messages held: waiting for more than the bound must still end.
            if not self._changed.wait_for(lambda: self._total >= count, timeout):
                raise TimeoutError(
                    f"waited {timeout:g} s for {count} message(s), the mail server captured {self._total}"
                )
            return self._newest()[::-1]


def _limit(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_messages must be a whole number of at least 1, got {value!r}")
    return value

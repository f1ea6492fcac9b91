"""The debug mail server's inbox: every captured message, thread-safe, with waiting."""

from __future__ import annotations

import mailbox
import threading
import time
from dataclasses import asdict, dataclass
from email import message_from_bytes, policy
from pathlib import Path


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

    def to_dict(self) -> dict:
        """The message as JSON-ready data."""
        data = asdict(self)
        data["rcpt_tos"] = list(self.rcpt_tos)
        data["headers"] = [list(pair) for pair in self.headers]
        return data


class MessageStore:
    """Captured messages in arrival order; optionally also written to a Maildir folder."""

    def __init__(self, maildir: str | Path | None = None) -> None:
        self._messages: list[CapturedMessage] = []
        self._raw: list[tuple] = []  # captured but not parsed yet
        self._next_id = 1
        self._changed = threading.Condition()
        self._maildir = mailbox.Maildir(maildir, create=True) if maildir else None

    def add(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> int:
        """Capture one message, wake everyone waiting for it, and return its id."""
        received_at = time.time()
        with self._changed:
            # Parsing is deferred to the first read: the SMTP reply (and the sender) need not wait for it.
            message_id = self._next_id
            self._next_id += 1
            self._raw.append((message_id, mail_from, list(rcpt_tos), raw, received_at))
            if self._maildir is not None:
                self._maildir.add(raw)
            self._changed.notify_all()
        return message_id

    def _parsed(self) -> list[CapturedMessage]:
        """Parse what arrived since the last read (call with the lock held)."""
        while self._raw:
            self._messages.append(CapturedMessage.parse(*self._raw.pop(0)))
        return list(self._messages)

    def all(self) -> list[CapturedMessage]:
        """A snapshot of the captured messages, oldest first."""
        with self._changed:
            return self._parsed()

    def __len__(self) -> int:
        with self._changed:
            return len(self._messages) + len(self._raw)

    def clear(self) -> int:
        """Forget every captured message (the Maildir copy stays); return how many."""
        with self._changed:
            count = len(self._messages) + len(self._raw)
            self._messages.clear()
            self._raw.clear()
            self._changed.notify_all()
            return count

    def wait_for(self, count: int, timeout: float = 10.0) -> list[CapturedMessage]:
        """Block until at least `count` messages are captured; return them all."""
        with self._changed:
            captured = lambda: len(self._messages) + len(self._raw)  # noqa: E731
            if not self._changed.wait_for(lambda: captured() >= count, timeout):
                raise TimeoutError(f"waited {timeout:g} s for {count} message(s), the mail server captured {captured()}")
            return self._parsed()

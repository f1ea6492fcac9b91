"""The bulk pattern: many messages over one SMTP connection (`mail.connect()`), against one `mail.send` each."""

from __future__ import annotations

import smtplib
import time
from collections import deque
from dataclasses import dataclass, field

from ..mailer import mail
from ..mailer.outcomes import describe_error

# The line is gone (not one message refused): the next message needs a new connection.
BROKEN_LINE = (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError)


@dataclass
class BulkReport:
    """What a bulk send did: delivered, failed (with why), connections opened, time per message."""

    reuse: bool
    delivered: int = 0
    failed: list[dict] = field(default_factory=list)
    connections: int = 0
    seconds: float = 0.0
    message_ms: list[float] = field(default_factory=list)
    last_error: Exception | None = field(default=None, repr=False)

    def send(self, send, msg) -> None:
        """Send one message with `send`, time it, note what became of it; re-raise only when the line broke."""
        started = time.perf_counter()
        try:
            send(msg)
        except Exception as error:
            self.fail(msg, error)
            if isinstance(error, BROKEN_LINE):
                raise
        else:
            self.delivered += 1
        finally:
            self.message_ms.append((time.perf_counter() - started) * 1000)

    def fail(self, msg, error: Exception) -> None:
        """Note a message as failed, with the reason (never dropped silently)."""
        self.failed.append({"to": msg.recipients[0], "error": describe_error(error)})
        self.last_error = error

    def to_dict(self) -> dict:
        """The report as JSON-ready data."""
        return {
            "pattern": "bulk",
            "reuse": self.reuse,
            "delivered": self.delivered,
            "failed": self.failed,
            "connections": self.connections,
            "seconds": round(self.seconds, 4),
            "message_ms": [round(ms, 3) for ms in self.message_ms],
        }


def send_each(messages) -> BulkReport:
    """One `mail.send` per message: each one connects, greets, sends and quits on its own."""
    report = BulkReport(reuse=False)
    started = time.perf_counter()
    for msg in messages:
        report.connections += 1
        try:
            report.send(mail.send, msg)
        except BROKEN_LINE:
            pass  # noted as failed; the next mail.send dials again anyway
    report.seconds = time.perf_counter() - started
    return report


def send_reusing(messages) -> BulkReport:
    """Every message over one connection: connect and greet once (a broken line is dialled again)."""
    report = BulkReport(reuse=True)
    pending = deque(messages)
    started = time.perf_counter()
    while pending:
        opened = report.connections
        try:
            with mail.connect() as conn:
                report.connections += 1
                while pending:
                    report.send(conn.send, pending.popleft())
        except Exception as error:  # the connection could not open, or broke: one attempt per message
            if report.connections == opened:
                report.fail(pending.popleft(), error)
    report.seconds = time.perf_counter() - started
    return report

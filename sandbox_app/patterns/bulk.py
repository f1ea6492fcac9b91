"""The bulk pattern: many messages over one SMTP connection (`mail.connect()`), against one `mail.send` each."""

from __future__ import annotations

import smtplib
import time
from collections import deque
from dataclasses import dataclass, field

from flask import Blueprint, current_app, request
from werkzeug.exceptions import BadRequest

from ..compose import EmailRequest, check_address, email_from_fields, read_fields
from ..errors import smtp_error_response
from ..mailer import describe_error, mail

MAX_RECIPIENTS = 1000
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
        """Send one message with `send`, time it, count it; re-raise only when the line broke."""
        stats = current_app.extensions["sandbox_stats"]
        started = time.perf_counter()
        try:
            send(msg)
        except Exception as error:
            self.fail(msg, error)
            if isinstance(error, BROKEN_LINE):
                raise
        else:
            stats.delivered("bulk")
            self.delivered += 1
        finally:
            self.message_ms.append((time.perf_counter() - started) * 1000)

    def fail(self, msg, error: Exception) -> None:
        """Count a message as failed, with the reason (never dropped silently)."""
        current_app.extensions["sandbox_stats"].failed("bulk", describe_error(error))
        current_app.logger.warning("bulk: mail to %s not delivered: %s", msg.recipients[0], describe_error(error))
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
            pass  # counted as failed; the next mail.send dials again anyway
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


bp = Blueprint("bulk", __name__)


def parse_bulk_request(req) -> tuple[list[EmailRequest], bool]:
    """The messages (one per address in `to`) and whether to reuse the connection; 400 says what is wrong."""
    data = read_fields(req)
    recipients = data.get("to")
    if isinstance(recipients, str):
        recipients = [recipients]
    if not isinstance(recipients, list) or not recipients or not all(isinstance(r, str) for r in recipients):
        raise BadRequest("'to' must be a list of email addresses (or one address)")
    if len(recipients) > MAX_RECIPIENTS:
        raise BadRequest(f"at most {MAX_RECIPIENTS} recipients per request, got {len(recipients)}")
    reuse = data.get("reuse", True)
    if not isinstance(reuse, bool):
        raise BadRequest("'reuse' must be true or false")
    first = email_from_fields({**data, "to": recipients[0]})  # subject and body checked once
    for address in recipients[1:]:
        check_address(address)
    return [EmailRequest(to, first.subject, first.body) for to in recipients], reuse


@bp.post("/send/bulk")
def send_bulk():
    """One message per recipient, over one connection; 200 all sent, 207 some, 502/503 none."""
    emails, reuse = parse_bulk_request(request)
    stats = current_app.extensions["sandbox_stats"]
    for _ in emails:
        stats.accepted("bulk")
    messages = [email.to_message() for email in emails]
    report = send_reusing(messages) if reuse else send_each(messages)
    if report.delivered == len(messages):
        return report.to_dict(), 200
    if report.delivered:
        return report.to_dict(), 207
    body, status, *headers = smtp_error_response(report.last_error)
    return {**report.to_dict(), **body}, status, *headers

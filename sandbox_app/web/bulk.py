"""The bulk route: POST /send/bulk sends one message per recipient with the bulk pattern."""

from __future__ import annotations

from flask import Blueprint, current_app, request
from werkzeug.exceptions import BadRequest

from ..mailer.seam import accept, not_sent
from ..patterns.bulk import send_each, send_reusing
from .compose import EmailRequest, check_address, email_from_fields, read_fields
from .errors import smtp_error_response

MAX_RECIPIENTS = 1000

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
    app = current_app._get_current_object()
    messages = [accept(app, email.to_message(), "bulk") for email in emails]  # counted, and tagged for the seam
    report = send_reusing(messages) if reuse else send_each(messages)
    # The seam counted every message Flask-Mail sent; one whose connection never opened, it never saw.
    reasons = {failure["to"]: failure["error"] for failure in report.failed}
    for msg in messages:
        not_sent(msg, reasons.get(msg.recipients[0], "not sent"))
    if report.delivered == len(messages):
        return report.to_dict(), 200
    if report.delivered:
        return report.to_dict(), 207
    body, status, *headers = smtp_error_response(report.last_error)
    return {**report.to_dict(), **body}, status, *headers

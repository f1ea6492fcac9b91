"""Why a send failed, in one line, and the one place that counts a failure and logs it."""

from __future__ import annotations

import smtplib

from flask import Flask, current_app
from werkzeug.exceptions import HTTPException

from .stats import get_stats


def describe_error(error: BaseException) -> str:
    """One line saying why a send failed, with the SMTP reply when there is one."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(error.recipients.values()))
        return f"recipient refused: {code} {reply.decode(errors='replace')}"
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        return f"{type(error).__name__}: {error.smtp_code} {text}"
    if isinstance(error, HTTPException):  # e.g. a full pool's 503: its description is what the client was told
        return str(error.description)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def record_failure(
    pattern: str, reason: BaseException | str, app: Flask | None = None, *, to: str | None = None
) -> str:
    """Count a lost mail of `pattern` and log why (never dropped without a word); return the reason."""
    app = app or current_app
    reason = reason if isinstance(reason, str) else describe_error(reason)
    get_stats(app).failed(pattern, reason)
    recipient = f" to {to}" if to else ""
    app.logger.warning("%s: mail%s not delivered: %s", pattern, recipient, reason)
    return reason

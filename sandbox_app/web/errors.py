"""Every error as JSON `{"error": ...}`: bad input 4xx, mail server trouble 502/503, never a traceback."""

from __future__ import annotations

import smtplib

from flask import Flask, current_app
from werkzeug.exceptions import HTTPException

from ..mailer.outcomes import describe_error


def smtp_error_response(error: Exception):
    """502 when the mail server refused the message, 503 when it is down, busy or silent."""
    body: dict = {"error": describe_error(error)}
    # smtplib's errors are OSErrors too: only connection trouble, not a refusal, means "down".
    unavailable = isinstance(error, (smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected)) or not isinstance(
        error, smtplib.SMTPException
    )
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        body["smtp_code"] = next(iter(error.recipients.values()))[0]
    elif isinstance(error, smtplib.SMTPResponseException):
        body["smtp_code"] = error.smtp_code
    if unavailable:
        body["error"] = f"mail server unavailable: {body['error']}"
        return body, 503, {"Retry-After": "1"}
    body["error"] = f"mail server refused the message: {body['error']}"
    return body, 502


def http_error_response(error: HTTPException):
    """Werkzeug's HTTP errors (400, 404, 405, 413, 503, ...) as JSON, keeping a Retry-After the error carries."""
    retry = {name: value for name, value in error.get_headers() if name == "Retry-After"}
    return {"error": error.description}, error.code, retry


def unexpected_error_response(error: Exception):
    """Log the traceback for the developer; give the client one line."""
    current_app.logger.exception("unexpected error")
    return {"error": f"internal error: {type(error).__name__} (details in the sandbox log)"}, 500


def register_error_handlers(app: Flask) -> None:
    """Install the JSON error handlers on the app."""
    app.register_error_handler(HTTPException, http_error_response)
    app.register_error_handler(smtplib.SMTPException, smtp_error_response)
    app.register_error_handler(OSError, smtp_error_response)
    app.register_error_handler(Exception, unexpected_error_response)

"""Turn a send request (JSON or form) into a Flask-Mail message, or refuse it with a clear error."""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import HeaderRegistry

from flask import Request
from flask_mail import Message
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

FIELDS = ("to", "subject", "body")
MAX_BODY_BYTES = 1024 * 1024
_parse_header = HeaderRegistry()


@dataclass(frozen=True)
class EmailRequest:
    """A validated request to send one email."""

    to: str
    subject: str
    body: str

    def to_message(self) -> Message:
        """The Flask-Mail message (the sender comes from MAIL_DEFAULT_SENDER)."""
        return Message(self.subject, recipients=[self.to], body=self.body)


def check_address(value: str, field: str = "to") -> None:
    """Refuse anything but exactly one well-formed address (the stdlib's RFC 5322 parser decides) in `field`."""
    try:
        header = _parse_header("To", value)
        addresses, defects = header.addresses, header.defects
    except Exception:  # the stdlib parser raises on some malformed input, e.g. "a@"
        addresses, defects = (), ()
    valid = len(addresses) == 1 and addresses[0].username and addresses[0].domain
    if not valid or defects:
        raise BadRequest(f"'{field}' is not a valid email address: {value!r}")


def read_fields(request: Request) -> dict:
    """The submitted fields, from a JSON object or a form post."""
    if request.is_json:
        data = request.get_json(silent=True)
        if data is None:
            raise BadRequest("the request body is not valid JSON")
        if not isinstance(data, dict):
            raise BadRequest('expected a JSON object like {"to": ..., "subject": ..., "body": ...}')
        return data
    return request.form.to_dict()


def parse_email_request(request: Request) -> EmailRequest:
    """Validate to, subject and body; raise a 400 or 413 that says what is wrong."""
    return email_from_fields(read_fields(request))


def email_from_fields(data: dict) -> EmailRequest:
    """Validate the fields of one email (as parse_email_request); the bulk route checks each recipient so."""
    missing = [name for name in FIELDS if name not in data]
    if missing:
        raise BadRequest(f"missing field(s): {', '.join(missing)} (send to, subject and body)")
    for name in FIELDS:
        if not isinstance(data[name], str):
            raise BadRequest(f"'{name}' must be a string")
    for name in ("to", "subject"):
        if "\r" in data[name] or "\n" in data[name]:
            raise BadRequest(f"'{name}' must not contain CR or LF (header injection)")
    check_address(data["to"])
    if len(data["body"].encode("utf-8")) > MAX_BODY_BYTES:
        raise RequestEntityTooLarge(f"'body' is larger than {MAX_BODY_BYTES // 1024 // 1024} MiB")
    return EmailRequest(to=data["to"], subject=data["subject"], body=data["body"])

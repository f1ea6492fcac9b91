"""Flask-Mail for the sandbox: the shared `mail` object, a send timeout, and delivery counting."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app
from flask_mail import Connection, Mail

from .server_timing import smtp_clock


class TimeoutConnection(Connection):
    """A Flask-Mail connection whose socket gives up after MAIL_TIMEOUT seconds."""

    def __init__(self, mail, timeout: float) -> None:
        super().__init__(mail)
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP:
        # Flask-Mail dials without a timeout (its issue #114): a hung server hangs the sender.
        smtp_class = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = smtp_class(self.mail.server, self.mail.port, timeout=self.timeout)
        host.set_debuglevel(int(self.mail.debug))
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


class SandboxMail(Mail):
    """Flask-Mail's `Mail`, connecting with a timeout; otherwise unchanged."""

    def connect(self) -> TimeoutConnection:
        app = getattr(self, "app", None) or current_app  # outside an app context: RuntimeError
        return TimeoutConnection(app.extensions["mail"], app.config["MAIL_TIMEOUT"])


mail = SandboxMail()


def describe_error(error: BaseException) -> str:
    """One line saying why a send failed, with the SMTP reply when there is one."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(error.recipients.values()))
        return f"recipient refused: {code} {reply.decode(errors='replace')}"
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        return f"{type(error).__name__}: {error.smtp_code} {text}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


@contextmanager
def counted(pattern: str, *, reraise: bool = True) -> Iterator[None]:
    """Count the send in the block as delivered or failed (and log the failure)."""
    stats = current_app.extensions["sandbox_stats"]
    try:
        with smtp_clock():  # inside a request, the response's Server-Timing shows this wait
            yield
    except Exception as error:
        stats.failed(pattern, describe_error(error))
        current_app.logger.warning("%s: mail not delivered: %s", pattern, describe_error(error))
        if reraise:
            raise
    else:
        stats.delivered(pattern)

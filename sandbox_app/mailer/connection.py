"""Flask-Mail with a timeout: connections that give up after MAIL_TIMEOUT seconds (the app's `mail` is in mailer/seam.py)."""

from __future__ import annotations

import smtplib

from flask import current_app
from flask_mail import Connection, Mail


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
        try:
            if self.mail.use_tls:
                host.starttls()
            if self.mail.username and self.mail.password:
                host.login(self.mail.username, self.mail.password)
        except BaseException:
            # Raised inside Connection.__enter__, so no __exit__ will quit: close the socket now, not at gc.
            host.close()
            raise
        return host


class SandboxMail(Mail):
    """Flask-Mail's `Mail`, connecting with a timeout; otherwise unchanged."""

    def connect(self) -> TimeoutConnection:
        app = getattr(self, "app", None) or current_app  # outside an app context: RuntimeError
        return TimeoutConnection(app.extensions["mail"], app.config["MAIL_TIMEOUT"])


class RefusalsKept(TimeoutConnection):
    """A connection that keeps what the server refused: Flask-Mail drops the answer of `sendmail`.

    `smtplib.SMTP.sendmail` raises only when every recipient is refused; when some are accepted it
    returns the others, {address: (code, reply)}, and Flask-Mail's `Connection.send` ignores that.
    """

    def configure_host(self) -> smtplib.SMTP:
        host = super().configure_host()
        self.refused: dict[str, tuple[int, bytes]] = {}
        send = host.sendmail

        def sendmail(*args, **kwargs):
            refused = send(*args, **kwargs)  # the message went to everyone else: no exception, no retry
            self.refused.update(refused)
            return refused

        host.sendmail = sendmail
        return host

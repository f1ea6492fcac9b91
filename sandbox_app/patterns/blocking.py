"""The blocking pattern: `mail.send` runs inside the request, so the response waits for SMTP."""

from ..mailer import mail


def send_email(app, msg):
    """Send, then answer: this worker is busy until the mail server replies."""
    mail.send(msg)  # connect, MAIL, RCPT, DATA, QUIT: every round trip happens right here
    return 200

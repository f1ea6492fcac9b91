"""A message to two recipients, one of them refused: what Flask-Mail says, and what the mail server kept."""

from __future__ import annotations

from dataclasses import dataclass

from flask_mail import Message

from ..mailer import mail
from ..mailer.connection import RefusalsKept
from .faults import mail_server_settings
from .sandbox import reset, running_sandbox

REFUSED = "nobody@example.com"
ACCEPTED = "ada@example.com"
REFUSE_ONE = {"RCPT": {"code": 550, "message": "5.1.1 No such user here", "recipients": [REFUSED]}}


@dataclass
class PartlyRefused:
    """One message to two recipients, sent with Flask-Mail as it comes and with a connection that keeps refusals."""

    raised: str  # what Flask-Mail's mail.send raised ('' for nothing)
    kept_for: list[tuple[str, ...]]  # the recipients of each copy the mail server kept
    refused_seen: dict[str, tuple[int, str]]  # what RefusalsKept caught

    def report(self) -> str:
        """What happened, as sentences."""
        return "\n".join([
            f"mail.send raised: {self.raised or 'nothing'}",
            f"the mail server kept {len(self.kept_for)} copies, for: {', '.join(' + '.join(r) for r in self.kept_for)}",
            f"a connection that keeps sendmail's answer saw: {self.refused_seen}",
        ])  # fmt: skip


def partly_refused(sandbox) -> PartlyRefused:
    """Send one message to ACCEPTED and REFUSED while the mail server refuses REFUSED: twice, two ways."""
    sandbox = running_sandbox(sandbox)
    app = sandbox.app
    reset(sandbox, settle=())
    message = lambda: Message("Welcome", recipients=[ACCEPTED, REFUSED], body="Two recipients.")  # noqa: E731
    with app.app_context(), mail_server_settings(sandbox, delay=0.0, faults=REFUSE_ONE):
        try:
            mail.send(message())
            raised = ""
        except Exception as error:  # shown, not hidden: the point is whether anything is raised at all
            raised = f"{type(error).__name__}: {error}"
        with RefusalsKept(app.extensions["mail"], app.config["MAIL_TIMEOUT"]) as connection:
            connection.send(message())
            seen = {address: (code, reply.decode()) for address, (code, reply) in connection.refused.items()}
    kept = [message.rcpt_tos for message in sandbox.mail_server.messages]
    return PartlyRefused(raised, kept, seen)

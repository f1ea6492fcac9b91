"""What one SMTP connection costs before its first message: plain, or STARTTLS and a login, as real providers ask."""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import Flask
from flask_mail import Mail, Message

from ..examples import DEFAULT_EMAIL
from ..smtp.loopback import LOOPBACK
from ..smtp.server import SMTP_USER
from .faults import mail_server_settings
from .sandbox import reset, running_sandbox
from .tables import Table


@dataclass
class ConnectionCost:
    """`messages` mails sent with one `mail.send` each, then over one connection, with or without STARTTLS."""

    tls: bool
    messages: int
    reply_delay: float
    seconds_each: float  # one connection per mail
    seconds_reused: float  # one connection for all

    @property
    def per_connection_ms(self) -> float:
        """What each extra connection cost: connect, greeting, EHLO, (STARTTLS, EHLO,) AUTH, QUIT."""
        return (self.seconds_each - self.seconds_reused) * 1000 / (self.messages - 1)

    @property
    def label(self) -> str:
        """How the connection was set up."""
        return "STARTTLS + AUTH" if self.tls else "plain + AUTH"


def provider_app(port: int, password: str | None, tls: bool) -> tuple[Flask, Mail]:
    """A small app of the learner's kind with Flask-Mail as it comes, pointed at a provider on `port`."""
    app = Flask("provider-test")
    app.config.update(
        MAIL_SERVER=LOOPBACK, MAIL_PORT=port, MAIL_USE_TLS=tls, MAIL_DEFAULT_SENDER="shop@example.com",
        MAIL_USERNAME=SMTP_USER if password else None, MAIL_PASSWORD=password,
    )  # fmt: skip
    return app, Mail(app)


def send_all(app: Flask, mail: Mail, messages: int, reuse: bool) -> float:
    """Send `messages` mails, one connection each or all over one; the seconds it took."""
    with app.app_context():
        mails = [Message(DEFAULT_EMAIL["subject"], recipients=[DEFAULT_EMAIL["to"]], body=DEFAULT_EMAIL["body"])
                 for _ in range(messages)]  # fmt: skip
        started = time.perf_counter()
        if reuse:
            with mail.connect() as connection:
                for msg in mails:
                    connection.send(msg)
        else:
            for msg in mails:
                mail.send(msg)
        return time.perf_counter() - started


def connection_costs(sandbox, messages: int = 20, reply_delay: float = 0.02) -> list[ConnectionCost]:
    """Plain, then STARTTLS: `messages` mails one connection each and over one, each reply `reply_delay` s late.

    `reply_delay` stands for the network: a provider 20 ms away answers every SMTP command 20 ms later.
    The sandbox's mail server has no per-message delay meanwhile, so only the connections differ.
    """
    sandbox = running_sandbox(sandbox)
    server = sandbox.mail_server
    costs = []
    for tls in (False, True):
        app, mail = provider_app(server.port, server.key, tls)
        with mail_server_settings(sandbox, delay=0.0, connect_delay=0.0, reply_delay=reply_delay, starttls=tls):
            send_all(app, mail, 2, reuse=True)  # warm the code path (and make the certificate)
            reset(sandbox, settle=())
            each = send_all(app, mail, messages, reuse=False)
            reused = send_all(app, mail, messages, reuse=True)
        costs.append(ConnectionCost(tls, messages, reply_delay, each, reused))
    return costs


def costs_table(costs: list[ConnectionCost]) -> Table:
    """The costs side by side: total seconds both ways, and what one connection cost."""
    columns = ["connection", "one per mail, s", "one for all, s", "each extra connection, ms"]
    rows = [
        [cost.label, round(cost.seconds_each, 2), round(cost.seconds_reused, 2), round(cost.per_connection_ms, 1)]
        for cost in costs
    ]
    delay_ms = costs[0].reply_delay * 1000 if costs else 0
    return Table(columns, rows, f"{costs[0].messages if costs else 0} mails, each SMTP reply {delay_ms:g} ms late")

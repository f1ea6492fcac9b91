"""Pool and connections (the lesson): the pool under a burst with and without a bound, and what a connection costs."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask
from flask_mail import Mail, Message

from ..examples import DEFAULT_EMAIL
from ..measuring import measure_send
from ..patterns.pool import get_pool
from ..sandbox import Sandbox
from ..smtp.loopback import LOOPBACK
from ..smtp.server import SMTP_USER
from .faults import mail_server_settings
from .running import reset, running_sandbox, settle
from .tables import Table

# -- the pool under a burst: what a bound on the mail waiting in memory changes --------------------------


@contextmanager
def pool_queue_size(sandbox: Sandbox, queue_size: int | None):
    """Bound the pool's queue for a block (None: no bound), then put the old bound back (re-run safe)."""
    pool = get_pool(sandbox.app)
    saved = pool.queue_size
    pool.queue_size = queue_size
    try:
        yield pool
    finally:
        pool.queue_size = saved


@dataclass
class BacklogRun:
    """One burst on the pool with one bound: what the clients heard and what became of the mail."""

    queue_bound: int | None  # None: no bound
    accepted: int  # answered 202
    refused: int  # answered 503
    p50_ms: float
    most_held: int  # the most mail held in memory at once, by the pool's own count
    # Of a second burst with the mail server stalled, the mail answered 202: all of it still in memory, counted
    # by the clients, outside the lock that refuses.
    accepted_when_stalled: int
    delivered: int
    lost: int  # accepted in either burst, never delivered
    last_mail_after_burst_s: float  # how long after the last answer the last accepted mail went out: the backlog's age
    threads: int
    failed: int

    def row(self) -> list:
        """The table row (see Backlog.table)."""
        bound = "none" if self.queue_bound is None else self.queue_bound
        return [bound, self.accepted, self.refused, self.most_held, self.accepted_when_stalled, self.delivered,
                self.lost, self.last_mail_after_burst_s]  # fmt: skip


@dataclass
class Backlog:
    """The same burst on the pool once per queue bound."""

    runs: list[BacklogRun]

    def table(self) -> Table:
        """The runs side by side."""
        columns = ["queue bound", "answered 202", "answered 503", "most held in memory",
                   "202s, mail server stalled", "delivered", "lost", "last mail, s after the burst"]  # fmt: skip
        return Table(columns, [run.row() for run in self.runs])


def pool_backlog(
    sandbox: Sandbox,
    queue_sizes=(None, 16),
    requests: int = 120,
    concurrency: int = 20,
    delay: float = 0.1,
    stalled_requests: int = 40,
) -> Backlog:
    """The same burst on the pool once per queue bound; per bound, what the clients heard and what the mail became.

    The mail server takes `delay` per message, so the pool's threads send slower than the burst arrives.
    Then `stalled_requests` more with the mail server holding every mail: each 202 is a mail in memory.
    """
    sandbox = running_sandbox(sandbox)
    runs = []
    with mail_server_settings(sandbox, delay=delay):
        for queue_size in queue_sizes:
            reset(sandbox, settle=())
            with pool_queue_size(sandbox, queue_size) as pool:
                pool.reset_peak()
                samples = measure_send(sandbox, "pool", requests, warmup=0, concurrency=concurrency)
                burst_over = time.time()
                accepted = samples.statuses.get(202, 0)
                settle(sandbox, "pool", requests, timeout=requests * delay + 10)
                arrivals = [m.received_at for m in sandbox.mail_server.messages]
                most_held = pool.peak
                with sandbox.mail_server.holding():  # nothing is sent meanwhile: every 202 is a mail held
                    stalled = measure_send(sandbox, "pool", stalled_requests, warmup=0, concurrency=concurrency)
                accepted_when_stalled = stalled.statuses.get(202, 0)
                total = requests + stalled_requests
                counters = settle(sandbox, "pool", total, timeout=total * delay + 10)
                runs.append(BacklogRun(
                    queue_bound=queue_size, accepted=accepted, refused=samples.statuses.get(503, 0),
                    p50_ms=round(samples.p50_ms, 2), most_held=most_held, accepted_when_stalled=accepted_when_stalled,
                    delivered=len(arrivals),
                    lost=accepted + accepted_when_stalled - len(sandbox.mail_server.messages),
                    last_mail_after_burst_s=round(max(max(arrivals, default=burst_over) - burst_over, 0.0), 2),
                    threads=pool.size, failed=counters["failed"],
                ))  # fmt: skip
    return Backlog(runs)


# -- what one SMTP connection costs before its first message: plain, or STARTTLS and a login --------------


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


@dataclass
class ConnectionCosts:
    """The same mails over plain connections and over STARTTLS ones."""

    plain: ConnectionCost
    tls: ConnectionCost

    def table(self) -> Table:
        """The costs side by side: total seconds both ways, and what one connection cost."""
        columns = ["connection", "one per mail, s", "one for all, s", "each extra connection, ms"]
        rows = [
            [cost.label, round(cost.seconds_each, 2), round(cost.seconds_reused, 2), round(cost.per_connection_ms, 1)]
            for cost in (self.plain, self.tls)
        ]
        caption = f"{self.plain.messages} mails, each SMTP reply {self.plain.reply_delay * 1000:g} ms late"
        return Table(columns, rows, caption)


def connection_costs(sandbox: Sandbox, messages: int = 20, reply_delay: float = 0.02) -> ConnectionCosts:
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
    return ConnectionCosts(*costs)

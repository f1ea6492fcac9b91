"""Pool and connections (the lesson): the pool under a burst with and without a bound, and what a connection costs."""

from __future__ import annotations

import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from statistics import median

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
    """Rounds of one mail with a connection of its own and one over a connection already open, plain or STARTTLS."""

    tls: bool
    reply_delay: float
    own_ms: list[float]  # per round: `mail.send`, which connects, greets, logs in, sends and quits
    reused_ms: list[float]  # per round: the same mail over the connection opened before the rounds

    @property
    def per_connection_ms(self) -> float:
        """What a connection of its own added to one mail: the median of the rounds' differences."""
        return median(own - reused for own, reused in zip(self.own_ms, self.reused_ms, strict=True))

    @property
    def reused_share(self) -> float:
        """A mail over the open connection as a share of one with its own: the median of the rounds' ratios."""
        return median(reused / own for own, reused in zip(self.own_ms, self.reused_ms, strict=True))

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


def timed_send(app: Flask, send, msg: Message) -> float:
    """Milliseconds `send(msg)` took, inside the app's context (Flask-Mail signals the send to current_app)."""
    with app.app_context():
        started = time.perf_counter()
        send(msg)
        return (time.perf_counter() - started) * 1000


def one_mail(app: Flask) -> Message:
    """The lesson's mail, from the app's default sender."""
    with app.app_context():
        return Message(DEFAULT_EMAIL["subject"], recipients=[DEFAULT_EMAIL["to"]], body=DEFAULT_EMAIL["body"])


@dataclass
class ConnectionCosts:
    """The same rounds over plain connections and over STARTTLS ones."""

    plain: ConnectionCost
    tls: ConnectionCost

    @property
    def starttls_extra_ms(self) -> float:
        """What STARTTLS added to a connection's cost: the median of the rounds' differences."""
        plain = [own - reused for own, reused in zip(self.plain.own_ms, self.plain.reused_ms, strict=True)]
        tls = [own - reused for own, reused in zip(self.tls.own_ms, self.tls.reused_ms, strict=True)]
        return median(secure - bare for secure, bare in zip(tls, plain, strict=True))

    def table(self) -> Table:
        """The medians side by side: one mail with a connection of its own, one over an open one, the difference."""
        columns = ["connection", "own connection, ms", "open connection, ms", "each connection, ms"]
        rows = [
            [cost.label, round(median(cost.own_ms), 1), round(median(cost.reused_ms), 1),
             round(cost.per_connection_ms, 1)]
            for cost in (self.plain, self.tls)
        ]  # fmt: skip
        caption = (
            f"one mail per side, {len(self.plain.own_ms)} rounds taking turns, each SMTP reply "
            f"{self.plain.reply_delay * 1000:g} ms late: medians of the rounds"
        )
        return Table(columns, rows, caption)


def connection_costs(sandbox: Sandbox, rounds: int = 9, reply_delay: float = 0.02) -> ConnectionCosts:
    """What a connection of its own adds to one mail, plain and with STARTTLS, each reply `reply_delay` s late.

    `reply_delay` stands for the network: a provider 20 ms away answers every SMTP command 20 ms later.
    Each round takes turns, plain then STARTTLS: one mail with `mail.send` (a connection of its own), then
    one over a connection opened before the rounds. A busy moment of the machine slows both mails of a
    pair alike, and each figure is a median of the rounds. The mail server has no per-message delay.
    """
    sandbox = running_sandbox(sandbox)
    server = sandbox.mail_server
    kinds = {tls: provider_app(server.port, server.key, tls) for tls in (False, True)}
    own: dict[bool, list[float]] = {False: [], True: []}
    reused: dict[bool, list[float]] = {False: [], True: []}
    with mail_server_settings(sandbox, delay=0.0, connect_delay=0.0, reply_delay=reply_delay):
        for tls, (app, mail) in kinds.items():  # warm the code path (and make the certificate)
            server.configure(starttls=tls)
            timed_send(app, mail.send, one_mail(app))
        reset(sandbox, settle=())
        with ExitStack() as opened:
            connections = {}
            for tls, (_app, mail) in kinds.items():
                server.configure(starttls=tls)  # each new connection reads it as it opens: STARTTLS required or not
                connections[tls] = opened.enter_context(mail.connect())
            for _round in range(rounds):
                for tls, (app, mail) in kinds.items():
                    server.configure(starttls=tls)
                    own[tls].append(timed_send(app, mail.send, one_mail(app)))
                    reused[tls].append(timed_send(app, connections[tls].send, one_mail(app)))
    return ConnectionCosts(*(ConnectionCost(tls, reply_delay, own[tls], reused[tls]) for tls in (False, True)))

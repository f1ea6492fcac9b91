"""When sending fails (the lesson): failures nobody hears of, a temporary error retried, a refused recipient, a burst.

Each experiment runs on the sandbox, puts back what it changed, and returns what it counted.
"""

from __future__ import annotations

import smtplib
import socket
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass

from aiosmtpd.handlers import Sink
from flask import Flask
from flask_mail import Message

from ..mailer import mail
from ..mailer.connection import RefusalsKept, SandboxMail
from ..measuring import measure_send
from ..queues.registry import BACKENDS
from ..sandbox import Sandbox
from ..smtp.loopback import LOOPBACK, LoopbackController, free_port
from ..smtp.server import SMTP_USER
from ..waiting import wait_until
from .exercises import Check, Report, exercise_message
from .faults import REFUSE_EVERY_RECIPIENT, TRY_AGAIN_LATER, mail_server_settings, thread_exceptions
from .plots import COLORS, new_figure
from .running import reset, running_sandbox, settle
from .tables import Table
from .threads import error_text

BURST_PATTERNS = ("threaded", "pool", "queue")  # the background patterns, side by side in a burst

# -- failures nobody hears of: the threaded pattern against the pool -------------------------------------------


@dataclass
class UnseenFailures:
    """The threaded pattern vs the pool, sending to a server that refuses every recipient."""

    sends: int
    thread_replies: Counter  # the HTTP statuses the threaded pattern's clients got
    thread_exceptions: list[str]  # the last line of each traceback Python printed to stderr
    thread_stats: dict  # the sandbox's own counters for the threaded pattern
    pool_replies: Counter
    pool_exceptions: list[str]  # what the pool's threads printed to stderr
    pool_stats: dict

    def report(self) -> str:
        """The counts as sentences (deterministic: no timings in them)."""
        kinds = ", ".join(Counter(line.split(":")[0] for line in self.thread_exceptions))
        return "\n".join([
            f"threaded: {replies(self.thread_replies)}",
            f"          {len(self.thread_exceptions)} tracebacks on stderr ({kinds})",
            f"          stderr said: {self.thread_exceptions[0] if self.thread_exceptions else '(nothing)'}",
            f"          the sandbox's counters: failed {self.thread_stats['failed']}, "
            f"delivered {self.thread_stats['delivered']}",
            f"pool:     {replies(self.pool_replies)}",
            f"          {len(self.pool_exceptions)} tracebacks on stderr",
            f"          the sandbox's counters: failed {self.pool_stats['failed']}, "
            f"delivered {self.pool_stats['delivered']}",
            f"          last_error: {self.pool_stats['last_error']}",
        ])  # fmt: skip


def replies(statuses: Counter) -> str:
    """HTTP statuses as "20 x HTTP 202"."""
    return ", ".join(f"{count} x HTTP {status}" for status, count in statuses.items())


def unseen_failures(sandbox: Sandbox, sends: int = 20, faults: dict = REFUSE_EVERY_RECIPIENT) -> UnseenFailures:
    """(a) With the mail server answering with `faults`, both answer at once; the failures reach only stderr and
    the sandbox's own counters (the seam beneath Flask-Mail), never the client."""
    sandbox = running_sandbox(sandbox)
    reset(sandbox, settle=())
    with mail_server_settings(sandbox, delay=0.0, faults=faults), thread_exceptions() as caught:
        threaded = measure_send(sandbox, "threaded", sends, warmup=0)
        # Each failed thread reports just before it ends.
        wait_until(lambda: len(caught) >= sends, 10, "the threaded pattern's threads")
        thread_stats = settle(sandbox, "threaded", sends, timeout=10)
        thread_exceptions_seen = [last_line(c.exc_value) for c in caught]
        caught.clear()
        pooled = measure_send(sandbox, "pool", sends, warmup=0)
        pool_stats = settle(sandbox, "pool", sends, timeout=10)
        pool_exceptions = [last_line(c.exc_value) for c in caught]
    return UnseenFailures(
        sends, threaded.statuses, thread_exceptions_seen, thread_stats, pooled.statuses, pool_exceptions, pool_stats
    )


def last_line(error: BaseException) -> str:
    """The last line of the traceback Python prints for `error`."""
    return f"{type(error).__module__}.{type(error).__name__}: {error}"


@dataclass
class TemporaryFailure:
    """The pool and the queue after the mail server said "try again later" to every first attempt, then recovered."""

    pool: dict  # the pool's /api/stats counters: delivered, failed, retried
    queue: dict  # the queue's
    retry_delay: float  # the queue's first retry delay, s
    arrived_after: list[float]  # when each queued mail arrived, in s after it was sent

    def report(self) -> str:
        """The counters per pattern, one line each."""
        return "\n".join(
            f"{pattern:<6} delivered {counts['delivered']}, failed {counts['failed']}, retried {counts['retried']}"
            for pattern, counts in (("pool", self.pool), ("queue", self.queue))
        )


def temporary_failure(sandbox: Sandbox, sends: int = 5, faults: dict = TRY_AGAIN_LATER) -> TemporaryFailure:
    """The server answers every message with `faults` (a 4xx: "try again later"), then recovers: pool vs queue.

    Returns the pool's and the queue's counters once the queue's retries have gone through, the queue's
    first retry delay and when each queued mail arrived.
    """
    sandbox = running_sandbox(sandbox)
    reset(sandbox, settle=())
    sandbox.start_consumer()
    with mail_server_settings(sandbox, delay=0.0, faults=faults):
        measure_send(sandbox, "pool", sends, warmup=0)
        queued = measure_send(sandbox, "queue", sends, warmup=0)
        # Every first attempt has failed: the pool's for good, the queue's are scheduled again.
        wait_until(lambda: sandbox.stats.snapshot()["pool"]["failed"] == sends, 10, "the pool's failures")
        wait_until(lambda: sandbox.stats.snapshot()["queue"]["retried"] == sends, 10, "the queue's retries")
    # The server has recovered (the fault is gone): the retries now go through.
    wait_until(lambda: sandbox.stats.snapshot()["queue"]["delivered"] == sends, 15, "the queue's deliveries")
    counters = sandbox.stats.snapshot()
    sent_at = sorted(s.started_at for s in queued.samples)
    arrived_at = sorted(m.received_at for m in sandbox.mail_server.messages)  # only the queue's got through
    # Paired in order: the n-th mail sent is, at the earliest, the n-th to arrive.
    arrived_after = [round(arrived - sent, 2) for sent, arrived in zip(sent_at, arrived_at, strict=False)]
    return TemporaryFailure(counters["pool"], counters["queue"], sandbox.queue.retry_delay, arrived_after)


# -- the exercise: which errors are worth trying again ----------------------------------------------------------

# What a queue should do with each error the sandbox's mail server (or its absence) can produce.
NOBODY_LISTENING, WRONG_PASSWORD, NO_AUTH_OFFERED = "nobody listening", "wrong password", "no AUTH offered"
OVER_THE_LIMIT = "over the connection limit"
SMTP_ERRORS = [
    ("451 to DATA", {"DATA": {"code": 451, "message": "4.3.0 Try again later"}}, True),
    ("450 to RCPT (mailbox busy)", {"RCPT": {"code": 450, "message": "4.2.1 Mailbox busy"}}, True),
    ("421 to MAIL (service closing)", {"MAIL": {"code": 421, "message": "4.3.2 Service not available"}}, True),
    ("421 greeting (over the server's connection limit)", OVER_THE_LIMIT, True),
    ("550 to RCPT (no such user)", {"RCPT": {"code": 550, "message": "5.1.1 No such user here"}}, False),
    ("554 to DATA (message rejected)", {"DATA": {"code": 554, "message": "5.7.1 Message rejected"}}, False),
    ("nobody listening (connection refused)", NOBODY_LISTENING, True),
    ("a wrong password (535)", WRONG_PASSWORD, False),
    ("a login the server does not offer (a configuration error)", NO_AUTH_OFFERED, False),
]


def _send_with(port: int, password: str | None) -> Exception:
    """What Flask-Mail raises sending one message to `port`, logged in as "sandbox" with `password`."""
    app = Flask("exercise-app")
    app.config.update(MAIL_SERVER=LOOPBACK, MAIL_PORT=port, MAIL_DEFAULT_SENDER="shop@example.com",
                      MAIL_USERNAME=SMTP_USER, MAIL_PASSWORD=password, MAIL_TIMEOUT=5.0)  # fmt: skip
    sender = SandboxMail()
    sender.init_app(app)
    with app.app_context():
        try:
            sender.send(exercise_message(0))
        except OSError as error:  # smtplib's errors are OSErrors too
            return error
    raise AssertionError(f"a send to port {port} went through")


def smtp_error(sandbox: Sandbox, faults) -> Exception:
    """The exception Flask-Mail raises when the sandbox's mail server answers with `faults`, or in a named case."""
    if faults == NOBODY_LISTENING:
        return _send_with(free_port(), sandbox.key)
    if faults == WRONG_PASSWORD:
        return _send_with(sandbox.smtp_port, "not-the-password")
    if faults == OVER_THE_LIMIT:  # one connection allowed and taken: the next is greeted with 421
        with mail_server_settings(sandbox, max_connections=1), socket.create_connection((LOOPBACK, sandbox.smtp_port)):
            wait_until(
                lambda: sandbox.mail_server.counters()["open_connections"] == 1,
                5,
                "the connection that takes the one place",
            )
            return _send_with(sandbox.smtp_port, sandbox.key)
    if faults == NO_AUTH_OFFERED:
        with LoopbackController(Sink()) as bare:  # a server that offers no AUTH: the login cannot even be tried
            return _send_with(bare.port, "any-password")
    with sandbox.app.app_context(), mail_server_settings(sandbox, delay=0.0, faults=faults):
        try:
            mail.send(exercise_message(0))
        except smtplib.SMTPException as error:
            return error
    raise AssertionError(f"the mail server accepted a message it should have refused ({faults})")


def check_is_temporary(sandbox: Sandbox, is_temporary) -> Report:
    """Check an `is_temporary(error)` on real errors from the sandbox's mail server: retry 4xx and outages, not 5xx."""
    sandbox = running_sandbox(sandbox)
    report = Report("Checked with the errors Flask-Mail raised against the sandbox's mail server:")
    for what, faults, temporary in SMTP_ERRORS:
        error = smtp_error(sandbox, faults)
        try:
            answer = is_temporary(error)
        except Exception as raised:  # the learner's code
            report.checks.append(Check(what, False, f"is_temporary raised {error_text(raised)}"))
            continue
        expected = "temporary, try again later" if temporary else "permanent, give up"
        report.checks.append(Check(
            f"{what}: {expected}", bool(answer) == temporary,
            f"Flask-Mail raised {type(error).__name__}; your function said {answer!r}",
        ))  # fmt: skip
    reset(sandbox, settle=())
    return report


# -- a message to two recipients, one of them refused: what Flask-Mail says, and what the mail server kept --------

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


def partly_refused(sandbox: Sandbox) -> PartlyRefused:
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


# -- a burst against a mail server that allows few connections: what each pattern answers, delivers and loses -----


@dataclass
class BurstRow:
    """One pattern under the burst: its response times, what it accepted, and what became of the mail."""

    pattern: str
    p50_ms: float
    p99_ms: float
    accepted: int
    delivered: int
    failed: int
    retried: int
    refused_421: int  # connections the mail server refused beyond its limit
    peak_connections: int
    lost: int  # requests whose mail never arrived


BURST_COLUMNS = ["pattern", "p50_ms", "p99_ms", "accepted", "delivered", "refused_421", "peak_connections", "lost"]


@dataclass
class Burst:
    """The same burst with each pattern, against a mail server that allows `max_connections` at once."""

    requests: int
    max_connections: int
    rows: list[BurstRow]

    @property
    def by_pattern(self) -> dict[str, BurstRow]:
        """The rows by pattern."""
        return {row.pattern: row for row in self.rows}

    def table(self) -> Table:
        """One row per pattern: response times, accepted, delivered, refused, connections, lost."""
        return Table(BURST_COLUMNS, [[getattr(row, column) for column in BURST_COLUMNS] for row in self.rows])

    def plot(self):
        """Two panels per pattern: response time (p50, p99), and how many of the mails arrived or were lost."""
        names = [row.pattern for row in self.rows]
        colors = [COLORS.get(name, "#444444") for name in names]
        positions = list(range(len(self.rows)))
        figure, (times, mail) = new_figure(9, 3.4, ncols=2)
        times.bar([p - 0.2 for p in positions], [row.p50_ms for row in self.rows], 0.4, color=colors, label="p50")
        times.bar([p + 0.2 for p in positions], [row.p99_ms for row in self.rows], 0.4, color=colors, alpha=0.45,
                  label="p99")  # fmt: skip
        times.set_xticks(positions, names)
        times.set(ylabel="response time (ms)", title="Every request is answered at once...")
        times.legend()
        sent = self.rows[0].accepted
        delivered = [row.delivered for row in self.rows]
        mail.bar(names, delivered, color="#2ca02c", label="delivered")
        mail.bar(names, [row.lost for row in self.rows], bottom=delivered, color="#d62728", label="lost (421 refused)")
        for position, row in zip(positions, self.rows, strict=True):
            mail.text(position, sent * 1.02, f"{row.delivered} of {sent}", ha="center", va="bottom")
        mail.set_ylim(0, sent * 1.35)
        mail.set(ylabel="mails", title=f"...but with {self.max_connections} connections allowed:")
        mail.legend(loc="upper center", ncols=2, frameon=False)
        return figure


def limited_burst(
    sandbox: Sandbox,
    patterns=BURST_PATTERNS,
    requests: int = 200,
    concurrency: int = 20,
    max_connections: int = 10,
    delay: float = 0.1,
) -> Burst:
    """The same burst with each pattern; the server answers 421 beyond `max_connections`."""
    sandbox = running_sandbox(sandbox)
    rows = []
    for pattern in patterns:
        if pattern in BACKENDS:  # a queue sends only with its workers running
            sandbox.backend(pattern).ensure_workers()
    # A failed thread prints its traceback to stderr: caught here, or it would land in a later cell.
    with mail_server_settings(sandbox, delay=delay, max_connections=max_connections), thread_exceptions() as stderr:
        for pattern in patterns:
            reset(sandbox, settle=())
            printed = len(stderr)
            samples = measure_send(sandbox, pattern, requests, warmup=0, concurrency=concurrency)
            # 10 s of slack beyond the slowest drain (8 workers) and the queue's retries.
            counters = settle(sandbox, pattern, requests, timeout=requests * delay + 10)
            with suppress(TimeoutError):  # a thread prints just after its failure was counted; a pool's never does
                # The lambda runs within this iteration: the loop's variables are the ones meant.
                wait_until(lambda: len(stderr) - printed >= counters["failed"], 2, "tracebacks")  # noqa: B023
            server = sandbox.mail_server.counters()
            rows.append(BurstRow(
                pattern=pattern, p50_ms=round(samples.p50_ms, 2), p99_ms=round(samples.p99_ms, 2),
                accepted=samples.statuses.get(202, 0), delivered=counters["delivered"], failed=counters["failed"],
                retried=counters["retried"], refused_421=server["refused"], peak_connections=server["peak_connections"],
                lost=requests - counters["delivered"],
            ))  # fmt: skip
    return Burst(requests, max_connections, rows)

"""Crashes and duplicates (the lesson): the web process killed mid-burst, the consumer stopped three ways, a late reply.

Each experiment runs on the sandbox, puts back what it changed, and returns what it counted.
"""

from __future__ import annotations

import asyncio
import email
import http.client
import signal
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field

from ..addresses import auth_headers
from ..examples import DEFAULT_EMAIL
from ..measuring import measure_send, timed_request
from ..processes.webprocess import WebProcess
from ..queues.huey_queue import ConsumerProcess
from ..sandbox import Sandbox
from ..smtp.loopback import LOOPBACK, LoopbackController
from ..waiting import wait_until
from .faults import mail_server_settings
from .running import reset, running_sandbox
from .send_failures import BURST_PATTERNS
from .tables import Table

# -- the web process killed in the middle of a burst ------------------------------------------------------------


@dataclass
class CrashResult:
    """Per pattern: mails the web process accepted (202) before it died, and mails that arrived."""

    accepted: Counter
    delivered: Counter
    refused_after_kill: int
    seconds_to_drain: float

    def lost(self, pattern: str) -> int:
        """Accepted with a 202, never delivered."""
        return max(0, self.accepted[pattern] - self.delivered[pattern])

    def table(self) -> Table:
        """accepted / delivered / lost per pattern."""
        rows = [[p, self.accepted[p], self.delivered[p], self.lost(p)] for p in self.accepted]
        return Table(["pattern", "accepted", "delivered", "lost"], rows)


def tagged(pattern: str, number: int) -> dict:
    """The email for request `number` of a pattern: the subject says which, so the inbox can be counted."""
    return {**DEFAULT_EMAIL, "subject": f"crash test {pattern} #{number}"}


def delivered_by_pattern(sandbox: Sandbox, patterns) -> Counter:
    """Captured messages per pattern, by their subject."""
    subjects = Counter(m.subject.split(" #")[0].removeprefix("crash test ") for m in sandbox.mail_server.messages)
    return Counter({pattern: subjects[pattern] for pattern in patterns})


def crash_burst(
    sandbox: Sandbox,
    per_pattern: int = 40,
    patterns=BURST_PATTERNS,
    kill_after: float = 0.5,
    concurrency: int = 6,
    delay: float = 0.2,
) -> CrashResult:
    """(b) A separate web process takes a burst and is SIGKILLed part-way; then the consumer comes back.

    The web process sends to this sandbox's mail server and queues into this sandbox's queue.
    The consumer is stopped first, as if it went down with the web process: queued mail only waits.
    """
    sandbox = running_sandbox(sandbox)
    reset(sandbox, settle=())
    mail_queue = sandbox.queue
    sandbox.stop_consumer()
    jobs = iter([(pattern, number) for number in range(per_pattern) for pattern in patterns])  # interleaved
    kill_at = int(per_pattern * len(patterns) * kill_after)
    accepted: Counter = Counter({pattern: 0 for pattern in patterns})
    refused = 0
    lock = threading.Lock()
    args = ["--smtp-server", sandbox.smtp_address, "--queue-name", mail_queue.queue_name, "--queue-workers", "0"]
    if mail_queue.url:
        args += ["--queue-url", mail_queue.url]
    # The web process has the same key as this sandbox, and logs in to its mail server with it.
    secrets = (
        {"SANDBOX_KEY": sandbox.key, "SANDBOX_SMTP_PASSWORD": sandbox.key} if sandbox.key else {"SANDBOX_OPEN": "1"}
    )
    with mail_server_settings(sandbox, delay=delay), WebProcess(*args, env=secrets) as web:

        def client() -> None:
            nonlocal refused
            while True:
                with lock:
                    job = next(jobs, None)
                if job is None:
                    return
                pattern, number = job
                try:
                    sample = timed_request(
                        f"{web.url}send/{pattern}", "POST", tagged(pattern, number), timeout=10,
                        headers=auth_headers(sandbox),
                    )  # fmt: skip
                except (OSError, http.client.HTTPException):
                    with lock:
                        refused += 1  # the process is gone: this request was never accepted
                    continue
                with lock:
                    if sample.status == 202:
                        accepted[pattern] += 1
                    if sum(accepted.values()) >= kill_at and web.running:
                        web.kill()  # in the middle of the burst: no clean stop, no drain

        clients = [threading.Thread(target=client, name=f"burst-client-{i}") for i in range(concurrency)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        web.kill()
        started = time.monotonic()
        sandbox.start_consumer()  # back up: it finds the queued mail in SQLite (or Redis)
        with suppress(TimeoutError):  # what did not arrive is counted as lost below
            wait_until(lambda: delivered_by_pattern(sandbox, ["queue"])["queue"] >= accepted["queue"], 15, "the queue")
        drained = time.monotonic() - started
        time.sleep(delay)  # anything else still arriving would be counted too
    return CrashResult(accepted, delivered_by_pattern(sandbox, patterns), refused, drained)


# -- the queue's consumer stops: gracefully, at once, or killed -----------------------------

CONSUMER_STOPS = {
    "SIGINT": "graceful: the sends under way finish",
    "SIGTERM": "immediate: the sends under way are cut off and put back",
    "SIGKILL": "killed: nothing of the consumer runs after",
}


@dataclass
class ConsumerStop:
    """The consumer stopped with one signal while each of its threads was in the middle of a send."""

    signal: str
    what_it_does: str
    in_flight: int  # sends under way when the signal came
    delivered_before_stop: int
    accepted: int
    delivered: int
    lost: int
    twice: int  # mails delivered more than once


STOP_COLUMNS = {"signal": "signal", "what the consumer does": "what_it_does", "in flight": "in_flight",
                "accepted": "accepted", "delivered": "delivered", "lost": "lost"}  # fmt: skip


@dataclass
class ConsumerStops:
    """One stop per signal."""

    stops: list[ConsumerStop]

    @property
    def by_signal(self) -> dict[str, ConsumerStop]:
        """The stops by signal name."""
        return {stop.signal: stop for stop in self.stops}

    def table(self) -> Table:
        """One row per signal: what the consumer does, the sends in flight, and what became of the mail."""
        rows = [[getattr(stop, field) for field in STOP_COLUMNS.values()] for stop in self.stops]
        return Table(list(STOP_COLUMNS), rows)


def consumer_stops(
    sandbox: Sandbox, sends: int = 12, workers: int = 4, connect_delay: float = 0.3, signals=tuple(CONSUMER_STOPS)
) -> ConsumerStops:
    """Per signal: a consumer with `workers` threads is stopped while each thread is in the middle of a send.

    The mail server waits `connect_delay` before greeting, so every worker is caught in the middle of a send;
    then the consumer comes back (no delay now) and sends what the queue still holds. Counted at the mail server.
    """
    sandbox = running_sandbox(sandbox)
    rows = []
    server, mail_queue = sandbox.mail_server, sandbox.queue
    sandbox.stop_consumer()
    for name in signals:
        # The last round's cut-off connections close once their greeting is due.
        wait_until(lambda: server.counters()["open_connections"] == 0, 10, "the mail server's connections")
        reset(sandbox, settle=())
        with mail_server_settings(sandbox, connect_delay=connect_delay):
            consumer = sandbox.start_consumer(workers=workers)
            accepted = measure_send(sandbox, "queue", sends, warmup=0).statuses.get(202, 0)
            wait_until(lambda: server.counters()["open_connections"] >= workers, 10, "the consumer's sends")
            in_flight = server.counters()["open_connections"]
            consumer.process.send_signal(getattr(signal, name))
            consumer.process.wait(15)
            delivered_before = len(server.messages)
        sandbox.stop_consumer()  # gone already: this only forgets it
        left = mail_queue.unsent()  # what the queue still holds is all a new consumer can send
        sandbox.start_consumer(workers=workers)
        expected = delivered_before + left
        with suppress(TimeoutError):  # what never arrives is counted as lost below
            wait_until(lambda: len(server.messages) >= expected, 10, "the queue's mail")  # noqa: B023 (waited for here)
        sandbox.stop_consumer()  # graceful: a send still under way finishes, and is counted
        delivered = len(server.messages)
        rows.append(ConsumerStop(
            signal=name, what_it_does=CONSUMER_STOPS[name], in_flight=in_flight, delivered_before_stop=delivered_before,
            accepted=accepted, delivered=min(delivered, accepted), lost=max(accepted - delivered, 0),
            twice=max(delivered - accepted, 0),
        ))  # fmt: skip
    sandbox.start_consumer()  # as the lesson had it: the default number of workers
    return ConsumerStops(rows)


# -- a reply that comes too late: the mail server keeps the mail, the client gives up, the queue sends it twice -----


@dataclass
class SlowToConfirm:
    """aiosmtpd handler: keeps each message at once, then holds back its `250` reply, the first time only.

    A real mail server that has stored a message and is slow to say so (a congested link, a slow disk)
    looks like this to its client: the client's timeout fires, and it counts a temporary failure.
    """

    stall: float
    received: list[tuple[float, str]] = field(default_factory=list)  # (when, Message-ID) of every copy kept

    async def handle_DATA(self, server, session, envelope):
        """Keep the message, then (the first time) wait `stall` s before confirming it."""
        headers = email.message_from_bytes(envelope.original_content or envelope.content)
        self.received.append((time.time(), headers["Message-ID"]))
        if len(self.received) == 1:
            await asyncio.sleep(self.stall)  # cancelled when the client hangs up: the message is kept all the same
        return "250 OK: kept"


@dataclass
class LateReply:
    """One queued mail, sent to a mail server whose first reply comes after the consumer's timeout."""

    timeout: float
    stall: float
    accepted: int
    counters: dict  # the queue's /api/stats: retried, delivered, failed
    received: list[tuple[float, str]]  # (when, Message-ID) of each copy the mail server kept

    @property
    def copies(self) -> int:
        """How many copies of the mail the mail server kept."""
        return len(self.received)

    @property
    def message_ids(self) -> set[str]:
        """The distinct Message-ID headers among the copies."""
        return {message_id for _, message_id in self.received}

    def report(self) -> str:
        """The counts as sentences (deterministic: no timings in them)."""
        ids = len(self.message_ids)
        return "\n".join([
            f"the client (the queue's consumer, MAIL_TIMEOUT {self.timeout:g} s): accepted {self.accepted}, "
            f"retried {self.counters['retried']}, delivered {self.counters['delivered']}, "
            f"failed {self.counters['failed']}",
            f"the mail server (confirms after {self.stall:g} s): kept {self.copies} "
            f"cop{'y' if self.copies == 1 else 'ies'}, with {ids} Message-ID{'' if ids == 1 else 's'}",
        ])  # fmt: skip


def late_reply(sandbox: Sandbox, timeout: float = 0.5, stall: float = 1.0) -> LateReply:
    """One mail through the queue, to a mail server that keeps it but confirms only after the consumer gave up.

    The sandbox's own consumer steps aside for a consumer whose MAIL_TIMEOUT is `timeout` and whose
    mail server holds its first reply for `stall` s; afterwards the sandbox's consumer comes back.
    """
    sandbox = running_sandbox(sandbox)
    reset(sandbox, settle=())
    sandbox.stop_consumer()
    handler = SlowToConfirm(stall)
    server = LoopbackController(handler)
    # The same queue and app as the sandbox's consumer, another mail server, and a short timeout. This
    # server asks for no login, so none is sent.
    without_login = {"MAIL_USERNAME": None, "MAIL_PASSWORD": None}
    settings = sandbox.queue.worker_settings(
        {**without_login, "MAIL_SERVER": LOOPBACK, "MAIL_PORT": server.port, "MAIL_TIMEOUT": timeout}
    )
    try:
        with server, ConsumerProcess(settings, workers=1):
            accepted = measure_send(sandbox, "queue", 1, warmup=0).statuses.get(202, 0)
            with suppress(TimeoutError):  # counted as it stands below
                wait_until(lambda: sandbox.stats.snapshot()["queue"]["delivered"] >= accepted, 15, "the retried mail")
    finally:
        sandbox.start_consumer()
    return LateReply(timeout, stall, accepted, sandbox.stats.snapshot()["queue"], list(handler.received))

"""A reply that comes too late: the mail server keeps the mail, the client gives up, and the queue sends it twice."""

from __future__ import annotations

import asyncio
import email
import time
from contextlib import suppress
from dataclasses import dataclass, field

from ...queues.huey_queue import ConsumerProcess
from ...smtp.loopback import LOOPBACK, LoopbackController
from ...waiting import wait_until
from ..sandbox import reset, running_sandbox
from ..timing import measure_send


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


def late_reply(sandbox, timeout: float = 0.5, stall: float = 1.0) -> LateReply:
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

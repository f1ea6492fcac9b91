"""Processes that die: the web process killed in the middle of a burst, and the queue's consumer stopped three ways."""

from __future__ import annotations

import http.client
import signal
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass

from ...addresses import auth_headers
from ...examples import DEFAULT_EMAIL
from ...processes.webprocess import WebProcess
from ...waiting import wait_until
from ..faults import mail_server_settings
from ..sandbox import reset, running_sandbox
from ..tables import Table
from ..timing import measure_send, timed_request

BURST_PATTERNS = ("threaded", "pool", "queue")


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


def delivered_by_pattern(sandbox, patterns) -> Counter:
    """Captured messages per pattern, by their subject."""
    subjects = Counter(m.subject.split(" #")[0].removeprefix("crash test ") for m in sandbox.mail_server.messages)
    return Counter({pattern: subjects[pattern] for pattern in patterns})


def crash_burst(
    sandbox,
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


def consumer_stops(
    sandbox, sends: int = 12, workers: int = 4, connect_delay: float = 0.3, signals=tuple(CONSUMER_STOPS)
) -> list[dict]:
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
        rows.append({
            "signal": name,
            "what the consumer does": CONSUMER_STOPS[name],
            "in flight": in_flight,
            "delivered before the stop": delivered_before,
            "accepted": accepted,
            "delivered": min(delivered, accepted),
            "lost": max(accepted - delivered, 0),
            "twice": max(delivered - accepted, 0),
        })  # fmt: skip
    sandbox.start_consumer()  # as the lesson had it: the default number of workers
    return rows

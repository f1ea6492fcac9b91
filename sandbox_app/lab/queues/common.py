"""What every queue experiment does: send tagged mail, count it at the mail server, restart the workers as they were."""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from contextlib import contextmanager, suppress

import psutil

from ...examples import DEFAULT_EMAIL
from ...measuring import measure_send
from ...waiting import wait_until


def typed_command(process) -> str:
    """A worker's command line as you would type it (`celery ...`, `python -m ...`), its queue's name as QUEUE."""
    command = process.command
    words = ["celery", *command[3:]] if command[1:3] == ["-m", "celery"] else ["python", *command[1:]]
    shown = " ".join(words).replace(process.queue_name, "QUEUE")
    return re.sub(r"-[0-9a-f]{6}@", "-ID@", shown)  # the worker's name: made unique per start


def send_tagged(sandbox, pattern: str, count: int, label: str) -> int:
    """POST `count` mails to /send/<pattern>, subjects "<label> #<n>"; how many were accepted (202)."""
    accepted = 0
    for number in range(count):
        email = {**DEFAULT_EMAIL, "subject": f"{label} #{number}"}
        accepted += measure_send(sandbox, pattern, 1, warmup=0, email=email).statuses.get(202, 0)
    return accepted


def copies(sandbox, label: str) -> Counter:
    """How many copies of each "<label> #<n>" mail the mail server kept, by subject."""
    return Counter(m.subject for m in sandbox.mail_server.messages if m.subject.startswith(f"{label} #"))


def in_flight(sandbox) -> int:
    """Connections the mail server has open now: sends under way."""
    return sandbox.mail_server.counters()["open_connections"]


def wait_for_sends(sandbox, count: int, timeout: float = 15.0) -> int:
    """Wait until `count` sends are under way at the mail server; how many are."""
    with suppress(TimeoutError):  # fewer: the caller counts what there is
        wait_until(lambda: in_flight(sandbox) >= count, timeout, "the workers' sends")
    return in_flight(sandbox)


def wait_for_copies(sandbox, label: str, distinct: int, timeout: float) -> Counter:
    """Wait until `distinct` different mails of `label` arrived (or `timeout` s pass); the copies by subject."""
    with suppress(TimeoutError):  # what never arrives is counted as lost by the caller
        wait_until(lambda: len(copies(sandbox, label)) >= distinct, timeout, f"the {label} mail")
    return copies(sandbox, label)


def signal_and_wait(pids: list[int], signum: int, timeout: float = 15.0) -> None:
    """Send `signum` to each process and wait (up to `timeout` s) until they are all gone."""
    processes = []
    for pid in pids:
        with suppress(psutil.NoSuchProcess):
            processes.append(psutil.Process(pid))  # before the signal: a pid may be reused once it is gone
    for process in processes:
        with suppress(ProcessLookupError):
            os.kill(process.pid, signum)
    psutil.wait_procs(processes, timeout=timeout)


def unacked(sandbox) -> int:
    """Celery messages a worker took from Redis and never acknowledged: back only after the visibility timeout."""
    broker = sandbox.broker
    return broker.client().hlen("unacked") if broker.address else 0


def waiting(sandbox, pattern: str) -> int:
    """Mail the queue holds for a worker: queued, or scheduled for a retry (not Celery's unacknowledged)."""
    return sandbox.queue.waiting() if pattern == "queue" else sandbox.broker.waiting(pattern)


def wait_until_quiet(
    sandbox, pattern: str, label: str, *, redelivers: bool = False, quiet: float = 1.0, timeout: float = 20.0
) -> Counter:
    """Wait until nothing is under way or waiting and nothing changed for `quiet` s (or `timeout` s); the copies.

    Retries wait in the queue's schedule, so they count as waiting. With `redelivers` (Celery, acknowledged
    late) the tasks held by a killed worker must come back too. A queue that lost mail never delivers it:
    waiting for it would only wait out the timeout.
    """
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        held = unacked(sandbox) if pattern == "celery" else 0
        now = (sum(copies(sandbox, label).values()), in_flight(sandbox), waiting(sandbox, pattern), held)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet and now[1] == now[2] == 0 and not (redelivers and held):
            break  # nothing under way, nothing queued, and no change for a while: what is left never comes
        time.sleep(0.05)
    return copies(sandbox, label)


@contextmanager
def web_settings(sandbox, **settings):
    """Change the in-process app's settings for a block (what the view reads on each send), then restore them."""
    config = sandbox.app.config
    saved = {key: config[key] for key in settings if key in config}
    config.update(settings)
    try:
        yield
    finally:
        for key in settings:
            config.pop(key, None)
        config.update(saved)


def result_row(accepted: int, received: Counter, **columns) -> dict:
    """A row: what was accepted, delivered (distinct), lost, and sent more than once."""
    delivered = len(received)
    return {
        **columns,
        "accepted": accepted,
        "delivered": delivered,
        "lost": accepted - delivered,
        "twice": sum(count - 1 for count in received.values()),
    }

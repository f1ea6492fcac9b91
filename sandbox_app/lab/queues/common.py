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
from ...queues.registry import BACKENDS
from ...waiting import wait_until


def typed_command(process) -> str:
    """A worker's command line as you would type it (`celery ...`, `python -m ...`), its queue's name as QUEUE."""
    shown = " ".join(process.typed_command()).replace(process.queue_name, "QUEUE")
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


def held(sandbox, pattern: str) -> int:
    """Mail a killed worker took and never acknowledged (Celery): back only after the visibility timeout."""
    return sandbox.backend(pattern).held()


def unsent(sandbox, pattern: str) -> int:
    """Mail the queue still holds for a worker: queued, running, or scheduled for a retry."""
    return sandbox.backend(pattern).unsent()


# How long nothing may change before a queue counts as quiet. A task is out of every count while a worker
# moves it (between taking it from Redis and noting it, or between kombu's two steps handing it out again):
# milliseconds, but a worker stalled there on 2 busy cores once let half a second pass and lost a mail.
QUIET = 1.0


def wait_until_quiet(
    sandbox, pattern: str, label: str, *, redelivers: bool = False, quiet: float = QUIET, timeout: float = 20.0
) -> Counter:
    """Wait until nothing is under way or waiting and nothing changed for `quiet` s (or `timeout` s); the copies.

    Retries wait in the queue's schedule, so they count as unsent. With `redelivers` (Celery, acknowledged
    late) the tasks held by a killed worker must come back too. A queue that lost mail never delivers it:
    waiting for it would only wait out the timeout.
    """
    backend = sandbox.backend(pattern)
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = (
            sum(copies(sandbox, label).values()),
            in_flight(sandbox),
            unsent(sandbox, pattern),
            held(sandbox, pattern),
            backend.in_flight() if backend.opened() else 0,  # taken by a worker, not yet at the mail server
        )
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet and now[1] == now[2] == 0 and not (redelivers and now[3]):
            break  # nothing under way, nothing queued, and no change for a while: what is left never comes
        time.sleep(0.05)
    return copies(sandbox, label)


def workers_for(sandbox, pattern: str, count: int, settings: dict) -> list:
    """`pattern`'s workers sending `count` mails at once with Flask `settings`, and no other queue's running.

    Workers that already run so (a table's previous case) are kept: a start costs about a second.
    """
    for other in BACKENDS:  # one queue's workers at a time
        if other != pattern and sandbox.running_workers(other):
            sandbox.stop_worker(other)
    backend = sandbox.backend(pattern)
    workers = backend.workers()
    if (
        workers
        and backend.settings == settings
        and sum(process.workers for process in workers) == count
        and all(process.running for process in backend.processes)
    ):
        return workers
    return sandbox.start_worker(pattern, count, **settings)


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

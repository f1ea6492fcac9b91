"""A worker stopped in the middle of its sends, for each queue: SIGKILL (a crash) and SIGTERM (a deploy), and what arrives."""

from __future__ import annotations

import signal
from contextlib import suppress
from dataclasses import dataclass, field

from ...queues.celery_queue import VISIBILITY_TIMEOUT
from ...queues.registry import BACKENDS
from ...waiting import wait_until
from ..faults import mail_server_settings
from ..running import reset, running_sandbox
from ..workers import queues_paused
from .common import (
    copies,
    held,
    result_row,
    send_tagged,
    signal_and_wait,
    wait_for_sends,
    wait_until_quiet,
    web_settings,
    workers_for,
)

# What makes each queue deliver at least once: (the view's settings, the workers' settings). Huey has nothing.
AT_LEAST_ONCE = {pattern: backend.at_least_once for pattern, backend in BACKENDS.items() if backend.at_least_once}


@dataclass
class StopCase:
    """Which queue, set how, which of its processes the signal hits, and which signal."""

    pattern: str
    setting: str
    target: str = "worker"  # or "work horse" (RQ)
    web: dict = field(default_factory=dict)
    worker: dict = field(default_factory=dict)
    signal: str = "SIGKILL"
    redelivers: bool = False  # mail held by a killed worker comes back (Celery acknowledged late): wait for it


KILL_CASES = [
    StopCase("queue", "defaults"),
    StopCase("rq", "defaults (no Retry)", "work horse", web={"QUEUE_RETRIES": 0}),
    StopCase("rq", "Retry(max=3)", "work horse", *AT_LEAST_ONCE["rq"]),
    StopCase("rq", "defaults (no Retry)", "worker", web={"QUEUE_RETRIES": 0}),
    StopCase("celery", "defaults"),
    StopCase(
        "celery", f"acks_late, visibility {VISIBILITY_TIMEOUT} s", "worker", *AT_LEAST_ONCE["celery"], redelivers=True
    ),
]
# SIGTERM, what systemd, supervisord and Kubernetes send to stop a process.
HUEY_GRACEFUL_TERM = {"HUEY_OPTIONS": ["--graceful-signal", "TERM", "--shutdown-timeout", "10"]}
TERM_CASES = [
    StopCase("queue", "plain Huey", worker={"QUEUE_REQUEUE_INTERRUPTED": False}, signal="SIGTERM"),
    StopCase("queue", "the sandbox's consumer (puts back)", signal="SIGTERM"),
    StopCase("queue", "--graceful-signal TERM", worker=HUEY_GRACEFUL_TERM, signal="SIGTERM"),
    StopCase("rq", "defaults", signal="SIGTERM"),
    StopCase("celery", "defaults", signal="SIGTERM"),
]


def victims(processes: list, target: str) -> list[int]:
    """The pids a kill of `target` hits: the worker processes, or the work horses they forked."""
    if target == "work horse":
        return [pid for process in processes for pid in process.horse_pids()]
    for process in processes:
        process.processes()  # remembered: whatever a killed worker leaves running, its stop() ends
    return [process.pid for process in processes]


def worker_stopped(
    sandbox, case: StopCase, sends: int = 8, workers: int = 2, connect_delay: float | None = None
) -> dict:
    """Signal `case`'s target while each worker is in a send, start the workers again, count what arrived.

    The mail server waits `connect_delay` before it greets (8 s for a kill, 1 s for a SIGTERM, whose
    graceful stops wait for it), so each worker is caught before the mail went out: what is lost was
    never sent, and a copy can only come from a task run again. A kill comes as soon as the sends are
    under way (and, for Celery, the rest reserved), so the longer greeting costs only a wait that runs out. The other queues' workers stop
    meanwhile, and the queues run as before afterwards (see queues_paused).
    """
    sandbox = running_sandbox(sandbox)
    with queues_paused(sandbox):
        return _stopped(sandbox, case, sends, workers, connect_delay)


def _stopped(sandbox, case: StopCase, sends: int = 8, workers: int = 2, connect_delay: float | None = None) -> dict:
    if connect_delay is None:
        # A kill lands before the greeting: Celery has until then, less a second, to reserve the rest. With 4 s, a
        # fresh clone's CI once printed False for "holds the ones it had reserved". A wait that runs out costs the
        # extra 4 s (lesson 15's kill table took 25.1 s where it took 21.4 s).
        connect_delay = 8.0 if case.signal == "SIGKILL" else 1.0
    reset(sandbox, settle=())
    label = f"{case.signal} {case.pattern} {case.setting} {case.target}"
    with web_settings(sandbox, **case.web):
        processes = workers_for(sandbox, case.pattern, workers, case.worker)  # the previous case's, if they fit
        with mail_server_settings(sandbox, connect_delay=connect_delay):
            accepted = send_tagged(sandbox, case.pattern, sends, label)
            caught = wait_for_sends(sandbox, min(sends, workers))
            backend = sandbox.backend(case.pattern)
            if backend.prefetches:  # the worker reserves the rest before the signal lands
                with suppress(TimeoutError):  # a busy machine may take a while; the greeting waits meanwhile
                    wait_until(lambda: backend.waiting() == 0, connect_delay - 1.0, "the rest reserved")  # noqa: B023
            signal_and_wait(victims(processes, case.target), getattr(signal, case.signal))
            before_restart = sum(copies(sandbox, label).values())
        held_at_kill = held(sandbox, case.pattern)
        if case.target == "worker":  # a killed horse's worker lives on, and deals with the job itself
            sandbox.start_worker(case.pattern, workers, **case.worker)  # back up, as a supervisor restarts it
        received = wait_until_quiet(sandbox, case.pattern, label, redelivers=case.redelivers)
        still_held = held(sandbox, case.pattern)
    sandbox.backend(case.pattern).discard_held()  # back in an hour, not in the next case's run
    row = result_row(
        accepted, received,
        queue=BACKENDS[case.pattern].library, setting=case.setting, killed=case.target, **{"in flight": caught},
        held=still_held, **{"held at the kill": held_at_kill, "sent before it exited": before_restart},
    )  # fmt: skip
    row["lost"] -= still_held  # not lost yet: back after the visibility timeout (an hour, by default)
    return row


KILL_COLUMNS = ["queue", "setting", "killed", "in flight", "accepted", "delivered", "lost", "held", "twice"]


TERM_COLUMNS = ["queue", "setting", "in flight", "sent before it exited", "accepted", "delivered", "lost", "twice"]


def stop_table(sandbox, cases=KILL_CASES, **options) -> list[dict]:
    """One row per case: in flight at the signal, delivered, lost, held back until the visibility timeout, sent twice."""
    sandbox = running_sandbox(sandbox)
    with queues_paused(sandbox):  # once for the table: a case keeps the workers of the one before if they fit
        return [_stopped(sandbox, case, **options) for case in cases]

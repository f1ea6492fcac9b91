"""Duplicates with and without the send-once guard: a task killed after its mail went out, the guard's window, and
two runs at once (with and without a claim before the send)."""

from __future__ import annotations

import signal
import time

from ...queues.registry import BACKENDS
from ...smtp.loopback import LOOPBACK, LoopbackController
from ...waiting import wait_until
from ..crashes import SlowToConfirm
from ..faults import mail_server_settings
from ..running import reset, running_sandbox
from ..workers import queues_paused
from .common import (
    copies,
    result_row,
    send_tagged,
    signal_and_wait,
    wait_until_quiet,
    workers_for,
)
from .stops import AT_LEAST_ONCE, victims
from .visibility import SECOND_RUN_WAIT

TASK_TAIL = 1.0  # seconds of other work after the send (say, a database write): the kill lands in it
# (shorter than the visibility timeout: a task slower than that runs twice, see _overlapping_runs)
REPLY_DELAY = 0.5  # seconds before the reply to DATA (set while the sends wait at the gate): the kill lands in it
WITHOUT_LOGIN = {"MAIL_USERNAME": None, "MAIL_PASSWORD": None}  # the stalling server asks for none


def _kill_when_kept(sandbox, processes, target: str, label: str, count: int, pause: float) -> None:
    """Wait until the mail server kept `count` mails of `label`, wait `pause` s, then SIGKILL the senders."""
    wait_until(lambda: len(copies(sandbox, label)) >= count, 15, "the first copies")
    time.sleep(pause)  # into the task's other work (after the mark), or at once (before the reply and the mark)
    signal_and_wait(victims(processes, target), signal.SIGKILL)


def killed_after_send(sandbox, pattern: str, guard: bool, *, window: bool = False, sends: int = 2) -> dict:
    """Kill each worker once its mail went out: after the guard's mark (in the task's other work), or, with
    `window`, after the mail server kept it but before its reply came (so before any mark)."""
    sandbox = running_sandbox(sandbox)
    with queues_paused(sandbox):
        return _killed_after_send(sandbox, pattern, guard, window, sends)


def _killed_after_send(sandbox, pattern: str, guard: bool, window: bool = False, sends: int = 2) -> dict:
    reset(sandbox, settle=())
    web, worker = AT_LEAST_ONCE[pattern]
    # The same task in either kill: the workers of one serve the other (see guard_table).
    worker = {**worker, "QUEUE_SEND_ONCE": guard, "QUEUE_TASK_TAIL": TASK_TAIL}
    label = f"once {pattern} {guard} {window}"
    processes = workers_for(sandbox, pattern, sends, worker)
    target = BACKENDS[pattern].sender  # whichever runs the send: the worker, or RQ's work horse
    with mail_server_settings(sandbox) as server:
        if window:
            with server.holding():  # every send waits at DATA; then each is kept, and its reply comes late
                accepted = send_tagged(sandbox, pattern, sends, label)
                wait_until(lambda: server.waiting_at_gate >= sends, 15, "the sends at DATA")
                server.configure(reply_delay=REPLY_DELAY)
        else:
            accepted = send_tagged(sandbox, pattern, sends, label)
        _kill_when_kept(sandbox, processes, target, label, sends, pause=0.0 if window else TASK_TAIL / 2)
    if target == "worker":
        sandbox.start_worker(pattern, sends, **worker)  # back up; RQ's workers lost only their horses
    # At least once: mail a killed worker held comes back (Celery, after the visibility timeout).
    received = wait_until_quiet(sandbox, pattern, label, redelivers=True)
    return result_row(accepted, received, queue=BACKENDS[pattern].library, guard=guard)


def late_reply_copies(sandbox, pattern: str, guard: bool, timeout: float = 0.5, stall: float = 1.0) -> dict:
    """One mail to a mail server that keeps it but confirms after the worker's MAIL_TIMEOUT: the retry sends again."""
    sandbox = running_sandbox(sandbox)
    with queues_paused(sandbox):
        return _late_reply_copies(sandbox, pattern, guard, timeout, stall)


def _late_reply_copies(sandbox, pattern: str, guard: bool, timeout: float = 0.5, stall: float = 1.0) -> dict:
    reset(sandbox, settle=())
    handler = SlowToConfirm(stall)
    settings = {**WITHOUT_LOGIN, "MAIL_SERVER": LOOPBACK, "MAIL_TIMEOUT": timeout, "QUEUE_SEND_ONCE": guard}
    with LoopbackController(handler) as server:
        workers_for(sandbox, pattern, 1, {**settings, "MAIL_PORT": server.port})
        accepted = send_tagged(sandbox, pattern, 1, f"late {pattern} {guard}")
        wait_until(lambda: sandbox.stats.snapshot()[pattern]["delivered"] >= accepted, 15, "the retried mail")
    kept = len(handler.received)
    return {"queue": BACKENDS[pattern].library, "guard": guard, "accepted": accepted, "delivered": min(kept, 1),
            "lost": accepted - min(kept, 1), "twice": max(kept - 1, 0)}  # fmt: skip


def _overlapping_runs(sandbox, pattern: str, guard: bool | str) -> dict:
    """One mail whose send the mail server holds until its task's second run has come: Redis hands the task out
    again after the visibility timeout (Celery, acknowledged late) while its first run still sends."""
    reset(sandbox, settle=())
    _web, worker = AT_LEAST_ONCE[pattern]
    # The settings and count of the kills: the workers of a kill run on into this case.
    worker = {**worker, "QUEUE_SEND_ONCE": guard, "QUEUE_TASK_TAIL": TASK_TAIL}
    workers_for(sandbox, pattern, 2, worker)
    label = f"overlap {pattern} {guard}"
    with mail_server_settings(sandbox) as server:
        with server.holding():  # the first run waits at DATA
            accepted = send_tagged(sandbox, pattern, 1, label)
            # The second run joins it there, or, refused the claim, is scheduled to try again: then the gate opens.
            wait_until(lambda: server.waiting_at_gate + _retried(sandbox, pattern) >= 2, SECOND_RUN_WAIT, "run two")
        received = wait_until_quiet(sandbox, pattern, label, redelivers=True)
    return result_row(accepted, received, queue=BACKENDS[pattern].library, guard=guard)


def _retried(sandbox, pattern: str) -> int:
    """Runs of `pattern`'s tasks that failed and were scheduled to try again (a run refused the claim is one)."""
    return sandbox.stats.snapshot()[pattern]["retried"]


# (what happened, queue, experiment, its options, the workers' QUEUE_SEND_ONCE for the column "twice with it")
GUARD_CASES = [
    ("killed after its mail went out and was marked", "rq", _killed_after_send, {}, True),
    ("killed after its mail went out and was marked", "celery", _killed_after_send, {}, True),
    ("killed after the server kept it, before its reply", "rq", _killed_after_send, {"window": True}, True),
    ("a reply later than MAIL_TIMEOUT", "rq", _late_reply_copies, {}, True),
    ("two runs at once (a send slower than the visibility timeout)", "celery", _overlapping_runs, {}, True),
    ("the same, with a claim taken before the send", "celery", _overlapping_runs, {}, "claim"),
]


def guard_table(sandbox, cases=GUARD_CASES) -> list[dict]:
    """Per case: the mails sent twice without the guard, and with it (with a claim too, for "claim")."""
    sandbox = running_sandbox(sandbox)

    def run(pattern, guard, experiment, options) -> tuple:
        return pattern, str(guard), experiment.__name__, tuple(sorted(options.items()))

    # Every case without the guard and with it, run queue by queue and guard by guard: a run keeps the workers
    # of the one before when they fit (a start costs a second or more). Cases that differ only in the guard
    # they use share the run without one.
    runs = {
        run(pattern, guard, experiment, options): (pattern, guard, experiment, options)
        for _what, pattern, experiment, options, guarded in cases
        for guard in (False, guarded)
    }
    result = {}
    with queues_paused(sandbox):  # once for the table
        for key in sorted(runs):
            pattern, guard, experiment, options = runs[key]
            result[key] = experiment(sandbox, pattern, guard, **options)
    rows = []
    for what, pattern, experiment, options, guarded in cases:
        without, with_it = (result[run(pattern, guard, experiment, options)] for guard in (False, guarded))
        rows.append({
            "what happened": what, "queue": BACKENDS[pattern].library, "accepted": without["accepted"],
            "twice without the guard": without["twice"], "twice with it": with_it["twice"],
            "lost": without["lost"] + with_it["lost"],
        })  # fmt: skip
    return rows

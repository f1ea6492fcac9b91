"""Celery on Redis, acknowledged late: a task nobody acknowledged is handed out again after the visibility timeout."""

from __future__ import annotations

import signal
import time
from contextlib import suppress

from ...queues.celery_queue import ACKS_LATE, VISIBILITY_TIMEOUT
from ...waiting import wait_until
from ..faults import mail_server_settings
from ..running import reset, running_sandbox
from ..workers import queues_paused
from .common import copies, send_tagged, signal_and_wait, wait_for_sends, wait_until_quiet, workers_for

WORKERS = 2  # threads of the Celery worker, acknowledging late
SECOND_RUN_WAIT = 3 * VISIBILITY_TIMEOUT + 5  # seconds: a second run that has not come by then does not come


def slow_task_runs_twice(sandbox, slowness: float | None = None) -> dict:
    """One mail whose send lasts longer than the visibility timeout: Redis hands it out again while it runs.

    The mail server holds the send until the task's second run reaches it too; with `slowness`, it takes
    that many seconds instead (try one shorter than the timeout).
    """
    sandbox = running_sandbox(sandbox)
    with queues_paused(sandbox):
        return _slow_task_runs_twice(sandbox, slowness)


def _slow_task_runs_twice(sandbox, slowness: float | None) -> dict:
    reset(sandbox, settle=())
    workers_for(sandbox, "celery", WORKERS, {"CELERY": ACKS_LATE})
    server = sandbox.mail_server
    with mail_server_settings(sandbox, delay=slowness or 0.0):
        started = time.monotonic()
        if slowness:
            accepted = send_tagged(sandbox, "celery", 1, "slow")
            with suppress(TimeoutError):  # one copy only: counted as it stands
                wait_until(
                    lambda: sum(copies(sandbox, "slow").values()) >= 2, SECOND_RUN_WAIT + slowness, "the second run"
                )
        else:
            with server.holding():  # the first run waits at DATA until the second one gets there too
                accepted = send_tagged(sandbox, "celery", 1, "slow")
                with suppress(TimeoutError):  # never came: released, one copy
                    wait_until(lambda: server.waiting_at_gate >= 2, SECOND_RUN_WAIT, "the second run")
        took = time.monotonic() - started
        received = wait_until_quiet(sandbox, "celery", "slow", redelivers=True, timeout=SECOND_RUN_WAIT + 5)
    return {"accepted": accepted, "copies": sum(received.values()), "send took": round(slowness or took, 1),
            "visibility timeout": VISIBILITY_TIMEOUT}  # fmt: skip


def killed_task_waits(sandbox, connect_delay: float = 0.5) -> dict:
    """One mail whose worker is killed mid-send: the task comes back only once the visibility timeout has passed."""
    sandbox = running_sandbox(sandbox)
    with queues_paused(sandbox):
        return _killed_task_waits(sandbox, connect_delay)


def _killed_task_waits(sandbox, connect_delay: float) -> dict:
    reset(sandbox, settle=())
    processes = workers_for(sandbox, "celery", WORKERS, {"CELERY": ACKS_LATE})
    with mail_server_settings(sandbox, connect_delay=connect_delay):
        taken = time.monotonic()
        accepted = send_tagged(sandbox, "celery", 1, "killed")
        wait_for_sends(sandbox, 1)
        signal_and_wait([process.pid for process in processes], signal.SIGKILL)
    sandbox.start_worker("celery", WORKERS, CELERY=ACKS_LATE)  # at once: nothing is handed out before the timeout
    wait_until(lambda: copies(sandbox, "killed"), VISIBILITY_TIMEOUT + 15, "the task handed out again")
    back_after = time.monotonic() - taken
    return {"accepted": accepted, "copies": sum(copies(sandbox, "killed").values()),
            "back after": round(back_after, 1), "visibility timeout": VISIBILITY_TIMEOUT}  # fmt: skip


def visibility_halves(sandbox) -> tuple[dict, dict]:
    """Both halves of the visibility timeout in one run, on the same Celery worker: slow_task_runs_twice, then
    killed_task_waits."""
    sandbox = running_sandbox(sandbox)
    with queues_paused(sandbox):  # once for both: the second finds the first's worker running
        return _slow_task_runs_twice(sandbox, None), _killed_task_waits(sandbox, 0.5)

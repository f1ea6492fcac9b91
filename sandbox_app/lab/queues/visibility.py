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
from .common import copies, send_tagged, signal_and_wait, wait_for_sends, wait_until_quiet


def slow_task_runs_twice(sandbox, slowness: float = VISIBILITY_TIMEOUT + 1.5) -> dict:
    """One mail whose send takes longer than the visibility timeout: Redis hands it out again while it runs."""
    sandbox = running_sandbox(sandbox)
    reset(sandbox, settle=())
    with queues_paused(sandbox):
        sandbox.start_worker("celery", 2, CELERY=ACKS_LATE)
        with mail_server_settings(sandbox, delay=slowness):
            accepted = send_tagged(sandbox, "celery", 1, "slow")
            with suppress(TimeoutError):  # one copy only: counted as it stands
                wait_until(lambda: sum(copies(sandbox, "slow").values()) >= 2, 3 * slowness + 5, "the second run")
            received = wait_until_quiet(sandbox, "celery", "slow", redelivers=True, timeout=2 * slowness + 5)
    return {"accepted": accepted, "copies": sum(received.values()), "send took": slowness,
            "visibility timeout": VISIBILITY_TIMEOUT}  # fmt: skip


def killed_task_waits(sandbox, connect_delay: float = 0.5) -> dict:
    """One mail whose worker is killed mid-send: the task comes back only once the visibility timeout has passed."""
    sandbox = running_sandbox(sandbox)
    reset(sandbox, settle=())
    with queues_paused(sandbox):
        processes = sandbox.start_worker("celery", 1, CELERY=ACKS_LATE)
        with mail_server_settings(sandbox, connect_delay=connect_delay):
            taken = time.monotonic()
            accepted = send_tagged(sandbox, "celery", 1, "killed")
            wait_for_sends(sandbox, 1)
            signal_and_wait([process.pid for process in processes], signal.SIGKILL)
        sandbox.start_worker("celery", 1, CELERY=ACKS_LATE)  # at once: nothing is handed out before the timeout
        wait_until(lambda: copies(sandbox, "killed"), VISIBILITY_TIMEOUT + 15, "the task handed out again")
        back_after = time.monotonic() - taken
    return {"accepted": accepted, "copies": sum(copies(sandbox, "killed").values()),
            "back after": round(back_after, 1), "visibility timeout": VISIBILITY_TIMEOUT}  # fmt: skip

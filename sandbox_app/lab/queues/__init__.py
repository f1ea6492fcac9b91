"""The three queues (Huey, RQ, Celery) under the same failures: each experiment restores the sandbox and returns rows."""

from ..workers import worker_memory
from .common import typed_command
from .exercise import check_send_once_guard
from .send_once import guard_table
from .stops import AT_LEAST_ONCE, KILL_CASES, KILL_COLUMNS, TERM_CASES, TERM_COLUMNS, stop_table, worker_stopped
from .visibility import killed_task_waits, slow_task_runs_twice, visibility_halves

__all__ = [
    "AT_LEAST_ONCE", "KILL_CASES", "KILL_COLUMNS", "TERM_CASES", "TERM_COLUMNS", "check_send_once_guard",
    "guard_table", "killed_task_waits", "slow_task_runs_twice", "stop_table", "typed_command", "visibility_halves",
    "worker_memory", "worker_stopped",
]  # fmt: skip

"""The three queues (Huey, RQ, Celery) under the same failures: each experiment restores the sandbox and returns rows."""

from .stops import AT_LEAST_ONCE, KILL_CASES, KILL_COLUMNS, TERM_CASES, TERM_COLUMNS, stop_table, worker_stopped

__all__ = ["AT_LEAST_ONCE", "KILL_CASES", "KILL_COLUMNS", "TERM_CASES", "TERM_COLUMNS", "stop_table", "worker_stopped"]

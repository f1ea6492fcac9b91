"""Which queues' workers run: an experiment runs one queue's at a time, so a learner's memory holds one copy of the app."""

from __future__ import annotations

from contextlib import contextmanager

from ..queues.registry import BACKENDS


@contextmanager
def queues_paused(sandbox):
    """Stop every queue's workers meanwhile, so that only an experiment's own run (a learner's memory holds one
    queue's workers at a time); afterwards the queues that ran run again with their default workers, and the
    workers an experiment started for any other queue are stopped. Nested in another, it finds nothing running
    and stops what its experiment started: a table pauses once, around all its cases."""
    were_running = [pattern for pattern in BACKENDS if sandbox.running_workers(pattern)]
    for pattern in were_running:
        sandbox.stop_worker(pattern)
    try:
        yield
    finally:
        for pattern in BACKENDS:  # stop first: never two queues' workers at once
            if pattern not in were_running and sandbox.running_workers(pattern):
                sandbox.stop_worker(pattern)
        for pattern in were_running:
            sandbox.start_worker(pattern)  # the app's own settings again


@contextmanager
def only_queue(sandbox, pattern: str):
    """`pattern`'s workers running with its default settings, and no other queue's, for a block."""
    with queues_paused(sandbox):
        sandbox.start_worker(pattern)  # and Redis: ready before the block measures anything
        yield


def worker_memory(sandbox) -> dict[str, float]:
    """Each queue's worker process, started alone with its default settings: its unique memory in MB."""
    memory = {}
    with queues_paused(sandbox):  # once: each queue's workers then start and stop in turn
        for pattern in BACKENDS:
            with only_queue(sandbox, pattern):
                memory[pattern] = sandbox.running_workers(pattern)[0].memory_mb()
    return memory

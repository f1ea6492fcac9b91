"""Lesson 14's measurement: what a job costs under the stock `rq worker`, and under a worker that loaded the app first."""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from redis import Redis
from rq import Queue

from ..paths import state_dir
from ..processes.child import ChildError, ChildProcess
from ..queues.redis_server import start_redis
from ..waiting import wait_until
from .tables import Table

JOB = "sandbox_app.programs.tutorial_tasks.welcome_job"
# RQ's own command, as the Mega-Tutorial runs it: the job's module is imported in each work horse, after the fork.
STOCK = [sys.executable, "-m", "rq.cli", "worker", "--burst", "--url"]  # then the URL and the queue
# RQ's "Performance notes": a worker script that imports what the jobs need before it forks any work horse.
PRELOADED = [sys.executable, "-c", (
    "import sys; import sandbox_app.programs.tutorial_tasks; from redis import Redis; from rq import Queue, Worker; "
    "queue = Queue(sys.argv[2], connection=Redis.from_url(sys.argv[1])); Worker([queue]).work(burst=True)"
)]  # fmt: skip


@dataclass
class PerJob:
    """One way of running the worker: each job's run time in its work horse, as RQ recorded it."""

    way: str
    seconds: list[float]

    @property
    def median_ms(self) -> float:
        """The median job's run time, in milliseconds."""
        return statistics.median(self.seconds) * 1000


def _run_burst(command: list[str], url: str, queue: Queue, jobs: list, log: Path) -> None:
    """Run a worker in burst mode until every job has ended, then stop it; ChildError with its log if it fails.

    A burst worker exits by itself once its queue is empty, but RQ's exit can wait up to a minute for its command
    listener's 60 s poll (redis-py 8.2 joins that thread; see queues/rq_queue.PromptWorker): not a cost of the jobs.
    """
    worker = ChildProcess(
        [*command, url, queue.name], log, what="an RQ worker in burst mode", ready=lambda: True, tethered=True
    ).start()
    try:
        wait_until(lambda: all(job.get_status() in ("finished", "failed") for job in jobs), 120, worker.what, 0.05)
    except TimeoutError:
        raise ChildError(f"{worker.what} did not run its jobs in 120 s; its log:\n{worker.read_log()}") from None
    finally:
        worker.stop(timeout=2)


def per_job_cost(jobs: int = 5) -> list[PerJob]:
    """Run `jobs` jobs under each worker, one after the other, on a Redis of their own; RQ's run time of each."""
    folder = state_dir() / "rq-preload"
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    with start_redis(folder / "redis") as redis_server, Redis.from_url(redis_server.url) as connection:
        for way, command in (
            ("stock rq worker (the Mega-Tutorial's)", STOCK),
            ("the app loaded before the fork", PRELOADED),
        ):
            queue = Queue(f"per-job-{len(results)}", connection=connection)
            enqueued = [queue.enqueue(JOB) for _ in range(jobs)]
            _run_burst(command, redis_server.url, queue, enqueued, folder / f"worker-{len(results)}.log")
            for job in enqueued:
                job.refresh()  # one read of each job: its status and its times
            finished = [job for job in enqueued if job.get_status(refresh=False) == "finished"]
            results.append(PerJob(way, [(job.ended_at - job.started_at).total_seconds() for job in finished]))
    return results


def per_job_table(results: list[PerJob]) -> Table:
    """The two ways side by side: jobs run, and the median job's run time."""
    return Table(
        ["worker", "jobs run", "median job (ms)"], [[r.way, len(r.seconds), round(r.median_ms, 1)] for r in results]
    )

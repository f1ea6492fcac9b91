"""The pool under a burst, with and without a bound on the mail waiting in memory: what the bound changes."""

from __future__ import annotations

import time
from contextlib import contextmanager

from ..patterns.pool import get_pool
from .faults import mail_server_settings
from .sandbox import reset, running_sandbox, settle
from .tables import Table
from .timing import measure_send


@contextmanager
def pool_queue_size(sandbox, queue_size: int | None):
    """Bound the pool's queue for a block (None: no bound), then put the old bound back (re-run safe)."""
    pool = get_pool(sandbox.app)
    saved = pool.queue_size
    pool.queue_size = queue_size
    try:
        yield pool
    finally:
        pool.queue_size = saved


def pool_backlog(
    sandbox,
    queue_sizes=(None, 16),
    requests: int = 120,
    concurrency: int = 20,
    delay: float = 0.1,
) -> list[dict]:
    """The same burst on the pool once per queue bound; per bound, what the clients heard and what the mail became.

    The mail server takes `delay` per message, so the pool's threads send slower than the burst arrives.
    """
    sandbox = running_sandbox(sandbox)
    rows = []
    with mail_server_settings(sandbox, delay=delay):
        for queue_size in queue_sizes:
            reset(sandbox, settle=())
            with pool_queue_size(sandbox, queue_size) as pool:
                pool.reset_peak()
                samples = measure_send(sandbox, "pool", requests, warmup=0, concurrency=concurrency)
                burst_over = time.time()
                accepted = samples.statuses.get(202, 0)
                counters = settle(sandbox, "pool", requests, timeout=requests * delay + 10)
                arrivals = [m.received_at for m in sandbox.mail_server.messages]
                rows.append({
                    "queue bound": "none" if queue_size is None else queue_size,
                    "answered 202": accepted,
                    "answered 503": samples.statuses.get(503, 0),
                    "p50_ms": round(samples.p50_ms, 2),
                    "most held in memory": pool.peak,
                    "delivered": len(arrivals),
                    "lost": accepted - len(arrivals),
                    # How long after the last answer the last accepted mail went out: the backlog's age.
                    "last mail, s after the burst": round(max(max(arrivals, default=burst_over) - burst_over, 0.0), 2),
                    "threads": pool.size,
                    "failed": counters["failed"],
                })  # fmt: skip
    return rows


def backlog_table(rows: list[dict]) -> Table:
    """The burst's rows as a table."""
    columns = ["queue bound", "answered 202", "answered 503", "most held in memory", "delivered", "lost",
               "last mail, s after the burst"]  # fmt: skip
    return Table(columns, [[row[c] for c in columns] for row in rows])

"""A burst against a mail server that allows few connections: what each pattern answers, delivers and loses."""

from __future__ import annotations

from contextlib import suppress

from ...queues.registry import BACKENDS
from ...waiting import wait_until
from ..faults import mail_server_settings, thread_exceptions
from ..plots import COLORS, new_figure
from ..sandbox import reset, running_sandbox, settle
from ..timing import measure_send
from .crash import BURST_PATTERNS


def limited_burst(
    sandbox,
    patterns=BURST_PATTERNS,
    requests: int = 200,
    concurrency: int = 20,
    max_connections: int = 10,
    delay: float = 0.1,
) -> list[dict]:
    """(c) The same burst with each pattern; the server answers 421 beyond `max_connections`."""
    sandbox = running_sandbox(sandbox)
    rows = []
    for pattern in patterns:
        if pattern in BACKENDS:  # a queue sends only with its workers running
            sandbox.backend(pattern).ensure_workers()
    # A failed thread prints its traceback to stderr: caught here, or it would land in a later cell.
    with mail_server_settings(sandbox, delay=delay, max_connections=max_connections), thread_exceptions() as stderr:
        for pattern in patterns:
            reset(sandbox, settle=())
            printed = len(stderr)
            samples = measure_send(sandbox, pattern, requests, warmup=0, concurrency=concurrency)
            # 10 s of slack beyond the slowest drain (8 workers) and the queue's retries.
            counters = settle(sandbox, pattern, requests, timeout=requests * delay + 10)
            with suppress(TimeoutError):  # a thread prints just after its failure was counted; a pool's never does
                # The lambda runs within this iteration: the loop's variables are the ones meant.
                wait_until(lambda: len(stderr) - printed >= counters["failed"], 2, "tracebacks")  # noqa: B023
            rows.append({
                "pattern": pattern,
                "p50_ms": round(samples.p50_ms, 2),
                "p99_ms": round(samples.p99_ms, 2),
                "accepted": samples.statuses.get(202, 0),
                "delivered": counters["delivered"],
                "failed": counters["failed"],
                "retried": counters["retried"],
                "refused_421": sandbox.mail_server.counters()["refused"],
                "peak_connections": sandbox.mail_server.counters()["peak_connections"],
                "lost": requests - counters["delivered"],
                "max_connections": max_connections,
            })  # fmt: skip
    return rows


def plot_burst(rows: list[dict]):
    """Two panels per pattern: response time (p50, p99), and how many of the mails arrived or were lost."""
    names = [row["pattern"] for row in rows]
    colors = [COLORS.get(name, "#444444") for name in names]
    positions = list(range(len(rows)))
    figure, (times, mail) = new_figure(9, 3.4, ncols=2)
    times.bar([p - 0.2 for p in positions], [row["p50_ms"] for row in rows], 0.4, color=colors, label="p50")
    times.bar([p + 0.2 for p in positions], [row["p99_ms"] for row in rows], 0.4, color=colors, alpha=0.45, label="p99")
    times.set_xticks(positions, names)
    times.set(ylabel="response time (ms)", title="Every request is answered at once...")
    times.legend()
    sent = rows[0]["accepted"]
    delivered = [row["delivered"] for row in rows]
    mail.bar(names, delivered, color="#2ca02c", label="delivered")
    mail.bar(names, [row["lost"] for row in rows], bottom=delivered, color="#d62728", label="lost (421 refused)")
    for position, row in zip(positions, rows, strict=True):
        mail.text(position, sent * 1.02, f"{row['delivered']} of {sent}", ha="center", va="bottom")
    mail.set_ylim(0, sent * 1.35)
    mail.set(ylabel="mails", title=f"...but with {rows[0]['max_connections']} connections allowed:")
    mail.legend(loc="upper center", ncols=2, frameon=False)
    return figure

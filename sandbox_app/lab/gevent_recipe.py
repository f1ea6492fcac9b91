"""Flask's gevent recipe measured: what a spawned greenlet loses when gunicorn stops or recycles its worker."""

from __future__ import annotations

import signal
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass

import psutil

from .. import runner
from ..config import SandboxConfig
from ..measuring import Samples, measure, measure_send
from ..sandbox import Sandbox
from ..waiting import wait_until
from .client import get, post
from .running import wait_until_settled
from .tables import Table, percentile_table

GRACEFUL_TIMEOUT = 10  # the sandbox's gunicorn --graceful-timeout: a stopping worker's requests get this long
# How long the mail server holds the mail after the worker was told to stop. gunicorn's gevent worker checks
# whether to stop once a second, then exits as soon as no request is open: this is three of its ticks.
WAIT_FOR_EXIT = 3.0


@dataclass
class Stop:
    """One way a gevent worker ends with mail in flight: what was accepted, and what reached the mail server."""

    pattern: str
    answered: dict[int, int]
    delivered: int
    waited: bool  # the worker was still running WAIT_FOR_EXIT s after it was told to stop

    def row(self) -> list:
        """The table row."""
        return [self.pattern, self.answered, "yes" if self.waited else "no", self.delivered]


def gevent_worker(sandbox: Sandbox) -> psutil.Process:
    """gunicorn's one gevent worker: the master's child."""
    master = psutil.Process(sandbox.app_process.pid)
    (worker,) = master.children()
    return worker


def _stop_with_mail_in_flight(sandbox: Sandbox, pattern: str, sends: int) -> Stop:
    """Hold the mail server, make `sends` requests, stop the worker gracefully (SIGTERM); count what arrived.

    The mail server lets the mail through once the worker has exited, or after WAIT_FOR_EXIT s if it has not: a
    worker that waits for its sends (gunicorn waits for requests until its graceful timeout) delivers them then.
    """
    worker = gevent_worker(sandbox)
    before = sandbox.mail_server.total
    with ThreadPoolExecutor(sends) as clients:
        with sandbox.mail_server.holding():  # every send waits at DATA: in flight, however fast the machine
            replies = [clients.submit(post, sandbox, f"send/{pattern}") for _ in range(sends)]
            wait_until(lambda: sandbox.mail_server.waiting_at_gate == sends, 10, "the sends held at DATA")
            worker.send_signal(signal.SIGTERM)
            with suppress(TimeoutError):
                wait_until(lambda: not worker.is_running(), WAIT_FOR_EXIT, "the old worker's exit")
            waited = worker.is_running()  # still running with the mail held: it waits for its sends
        wait_until(lambda: not worker.is_running(), GRACEFUL_TIMEOUT + 5, "the old worker's exit")
        answered = Counter(_status(reply) for reply in replies)
    wait_until(lambda: _has_a_new_worker(sandbox, worker), 10, "gunicorn's new worker")
    wait_until(lambda: get(sandbox, "ping").status == 200, 10, "the new worker's first answer")  # booted: it can stop
    return Stop(pattern, dict(answered), sandbox.mail_server.total - before, waited)


def _status(reply) -> int:
    """The reply's status, or 0 when the connection closed without one."""
    try:
        return reply.result().status
    except OSError:
        return 0


def _has_a_new_worker(sandbox: Sandbox, old: psutil.Process) -> bool:
    try:
        return gevent_worker(sandbox).pid != old.pid
    except (ValueError, psutil.Error):
        return False  # between the old worker's exit and the new one's start


@dataclass
class GeventRecipe:
    """Flask's gevent recipe under gunicorn's gevent worker: its timings beside /ping and the thread, and two stops."""

    ping: Samples
    spawned: Samples
    threaded: Samples
    delivered: dict[str, int]  # per pattern, once every spawned send had time to finish
    stops: list[Stop]

    def timings(self) -> Table:
        """The response times, side by side."""
        return percentile_table(self.ping, self.spawned, self.threaded, percentiles=(50, 95))

    def stops_table(self) -> Table:
        """The stops side by side: the answers the clients got, and the mail the server received."""
        return Table(["pattern", "answers", "worker waited for the mail", "mail delivered"],
                     [stop.row() for stop in self.stops])  # fmt: skip


def gevent_recipe(sends: int = 10, in_flight: int = 4, delay: float = 0.1) -> GeventRecipe:
    """Start the sandbox under gunicorn's gevent worker, time the recipe, stop the worker with mail in flight."""
    runner.stop()  # one sandbox at a time: the notebook starts its own again afterwards
    with Sandbox(SandboxConfig.resolve(server="gunicorn-gevent", workers=1, smtp_delay=delay)) as sandbox:
        ping = measure(sandbox, "ping", sends, label="/ping")
        spawned = measure_send(sandbox, "gevent", sends, warmup=0, label="gevent.spawn (Flask's recipe)")
        threaded = measure_send(sandbox, "threaded", sends, warmup=0, label="threaded")
        wait_until_settled(sandbox, ("gevent", "threaded"))
        counted = sandbox.stats.snapshot()
        delivered = {pattern: counted[pattern]["delivered"] for pattern in ("gevent", "threaded")}
        stops = [_stop_with_mail_in_flight(sandbox, pattern, in_flight) for pattern in ("gevent", "blocking")]
        return GeventRecipe(ping, spawned, threaded, delivered, stops)

"""Your database and your queue (the lesson): the commit race, rollbacks, a kill between commit and enqueue, the
relay's window, the response times, and the outbox's oldest age through a stopped relay.

Each experiment runs on the sandbox (Huey's consumer and one outbox relay running), and returns what it counted.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from flask import g
from sqlalchemy.exc import IntegrityError

from ..addresses import auth_headers
from ..database import OutboxMail, User, db
from ..database.gate import tasks_settled
from ..mailer.as_data import message_from
from ..measuring import Sample, Samples, timed_request
from ..patterns.signup import QUEUED_WAYS
from ..patterns.signup.welcome import (
    LaterStepFailed,
    rest_of_the_request,
    send_welcome,
    send_welcome_to,
    welcome_message,
)
from ..queues.backend import WorkerProcess
from ..queues.registry import FIRST_QUEUE, enqueue_task, hand_over
from ..sandbox import Sandbox
from ..waiting import wait_until
from .client import call
from .exercises import Check, Report
from .plots import new_figure
from .running import reset, running_sandbox
from .tables import Table
from .threads import error_text
from .workers import only_queue, queues_paused

WAYS = ("inline", "in-transaction", "in-transaction-address", "after-commit", "outbox")
TIMED_WAYS = ("inline", "in-transaction", "after-commit", "outbox")
CLIENTS = 20
SETTLE_SECONDS = 20.0
HELD_PROGRAM = "sandbox_app.programs.signup_held"


def sign_up(
    sandbox, way: str, email: str, fail: bool = False, url: str | None = None, via: str | None = None
) -> Sample:
    """POST /signup/<way> (Huey behind the queued ways, or the queue `via` names), timed; `fail` rolls the sign-up
    back after the hand-over."""
    body = {"email": email, "name": email.split("@")[0], "fail_after_enqueue": fail}
    path = f"signup/{way}" + (f"?via={via}" if via else "")
    return timed_request(f"{url or sandbox.url}{path}", "POST", body, timeout=30, headers=auth_headers(sandbox))


def welcomed(sandbox: Sandbox) -> list[str]:
    """Every address a welcome mail went to, once per mail."""
    return [to for m in sandbox.mail_server.messages if m.subject == "Welcome!" for to in m.rcpt_tos]


def users(sandbox: Sandbox) -> set[str]:
    """The addresses of the users committed."""
    with sandbox.app.app_context():
        emails = set(db.session.scalars(db.select(User.email)))
        db.session.remove()
    return emails


def outbox_empty(sandbox: Sandbox) -> bool:
    """No mail waiting in the outbox, none claimed and not handed over yet."""
    outbox = call(sandbox, "GET", "api/queue").json["queues"]["outbox"]
    return outbox["waiting"] == 0 and outbox["in_flight"] == 0


def queue_empty(sandbox: Sandbox, via: str = FIRST_QUEUE) -> bool:
    """Nothing waiting in the queue (Huey's unless `via` names another) and nothing under way in its workers."""
    queue = call(sandbox, "GET", "api/queue").json["queues"][via]
    return queue["waiting"] == 0 and queue["in_flight"] == 0


def settle(sandbox: Sandbox, via: str = FIRST_QUEUE) -> None:
    """Wait until the outbox is handed over and the queue's workers have run every task handed to them.

    Not by the counters: a copy the send-once guard skips is counted nowhere (it was not sent)."""
    wait_until(lambda: outbox_empty(sandbox), SETTLE_SECONDS, "the outbox relay")
    wait_until(lambda: queue_empty(sandbox, via), SETTLE_SECONDS, f"the {via} workers")


def settle_every_task(sandbox: Sandbox, via: str = FIRST_QUEUE) -> None:
    """`settle`, then wait (at most SETTLE_SECONDS, without failing) until every task handed to the queue has ended,
    sent or failed for good, by the counters: before counting the mail of an experiment that hands none over twice.

    The queue's counts alone can miss a task: one a worker has just taken (Huey's dequeue) is no longer waiting, and
    not yet counted in flight (its consumer counts it once it starts it). Counted as handed over before it is queued
    and counted again when it ends, it is never out of the counters. A copy the send-once guard skips is counted
    nowhere: with one, the wait runs out, and the mail is counted as it is."""
    settle(sandbox, via)
    ended = tasks_settled(via, sandbox.app)
    deadline = time.monotonic() + SETTLE_SECONDS
    while not ended() and time.monotonic() < deadline:
        time.sleep(0.01)


def afresh(sandbox: Sandbox, via: str = FIRST_QUEUE) -> None:
    """No users, no outbox rows, an empty inbox and zero counters, nothing still under way."""
    settle(sandbox, via)
    call(sandbox, "DELETE", "api/users")
    reset(sandbox, settle=())


def run_clients(jobs: list, work, clients: int = CLIENTS) -> list:
    """`work(job)` for every job, `clients` at a time."""
    with ThreadPoolExecutor(clients, thread_name_prefix="signup-client") as pool:
        return list(pool.map(work, jobs))


# -- the race and the rollbacks, the commit held until the worker has looked ------------------------------------


@dataclass
class WayCount:
    """One way's sign-ups at 20 clients, each commit held until the worker ran every task handed to it."""

    way: str
    users: int  # sign-ups committed
    missing: int  # users who exist and got no welcome mail
    rolled_back: int  # sign-ups that failed after the hand-over and rolled back
    rollback_tasks: int  # tasks a worker ran for them
    rollback_mail: int  # welcome mails sent to them
    twice: int  # users welcomed more than once
    refused: int = 0  # sign-ups again with an address already signed up (409)


def count_way(
    sandbox: Sandbox, way: str, signups: int = CLIENTS, rollbacks: int = 4, via: str = FIRST_QUEUE,
    duplicates: int = 0,
) -> WayCount:  # fmt: skip
    """Sign `signups` users up and roll `rollbacks` back, 20 clients at once, then sign the first `duplicates` up
    again (409), on the queue `via` names (Huey's by default); the commit gate held (until the queue has settled)
    so that a worker that looks before the commit looks every time (not for the outbox)."""
    sandbox = running_sandbox(sandbox)
    afresh(sandbox, via)
    jobs = [(f"{way}-{n}@example.com", False) for n in range(signups)]
    jobs += [(f"{way}-gone-{n}@example.com", True) for n in range(rollbacks)]

    queue = via if way in QUEUED_WAYS else None  # inline takes no ?via=: it sends in the request

    def sign_all_up() -> list[Sample]:
        replies = run_clients(jobs, lambda job: sign_up(sandbox, way, *job, via=queue))
        return replies + run_clients(jobs[:duplicates], lambda job: sign_up(sandbox, way, *job, via=queue))

    if way == "outbox":
        # Its commit has nothing queued to wait for, and must not be held: the guard marks each mail sent in the
        # database, and on SQLite a held commit keeps the one write lock that mark waits for.
        replies = sign_all_up()
    else:
        with sandbox.commit_gate.holding(until=tasks_settled(via, sandbox.app), timeout=10):
            replies = sign_all_up()
    settle_every_task(sandbox, via)
    kept = users(sandbox)
    mail = welcomed(sandbox)
    gone = {email for email, fail in jobs if fail}
    accepted = sandbox.stats.snapshot()[via]["accepted"]
    return WayCount(
        way=way,
        users=sum(reply.status == 201 for reply in replies),
        missing=sum(email not in mail for email in kept),
        rolled_back=sum(reply.status == 422 for reply in replies),
        rollback_tasks=max(0, accepted - len(kept)) if way != "inline" else 0,
        rollback_mail=sum(to in gone for to in mail),
        twice=sum(mail.count(email) > 1 for email in kept),
        refused=sum(reply.status == 409 for reply in replies),
    )


# -- the same on Celery and RQ ----------------------------------------------------------------------------------


def on_celery_and_rq(
    sandbox: Sandbox, ways=("after-commit", "outbox"), vias=("celery", "rq"), duplicates: int = 4
) -> dict[str, WayCount]:
    """`ways` on Celery's and on RQ's workers (each queue's alone, Huey's consumer stopped meanwhile and started again
    with its default settings): 20 sign-ups, 4 rollbacks and `duplicates` addresses again, by "way, queue"."""
    sandbox = running_sandbox(sandbox)
    counts = {}
    with queues_paused(sandbox):
        for via in vias:
            with only_queue(sandbox, via):
                for way in ways:
                    counts[f"{way}, {via}"] = count_way(sandbox, way, via=via, duplicates=duplicates)
    return counts


def queues_table(counts: dict[str, WayCount]) -> Table:
    """One row per way and queue: users welcomed once, missing, welcomed twice, and what the 409s and rollbacks did."""
    columns = ["way, queue", "welcomed once", "missing", "welcomed twice", "409s", "rollbacks: tasks run, mailed"]
    rows = [
        [name, f"{c.users - c.missing - c.twice} of {c.users}", c.missing, c.twice, c.refused,
         f"{c.rollback_tasks}, {c.rollback_mail} (of {c.rolled_back})"]
        for name, c in counts.items()
    ]  # fmt: skip
    return Table(columns, rows, caption=f"{CLIENTS} clients, each queue's workers alone, no gate for the outbox")


# -- the web process killed between the commit and the enqueue ----------------------------------------------------


def kill_between_commit_and_enqueue(sandbox: Sandbox, ways=("after-commit", "outbox")) -> dict[str, int]:
    """A process of the app's own, on this sandbox's database, queue and counters, holds one sign-up of each way just
    after its COMMIT and is SIGKILLed there; this sandbox's consumer and relay carry on. Welcome mails lost, by way."""
    sandbox = running_sandbox(sandbox)
    afresh(sandbox)
    settings = sandbox.relays.relay_settings({})  # what a relay builds the same app from
    emails = {way: f"killed-{way}@example.com" for way in ways}
    command = [sys.executable, "-m", HELD_PROGRAM, *(f"{way}:{email}" for way, email in emails.items())]
    held = WorkerProcess(command, settings, what="the held sign-ups", name="signup-held", workers=1, queue_name="queue")
    held.start()  # ready: every sign-up is committed and waits at the gate, before anything was queued
    try:
        held.kill()  # an out-of-memory kill, a deploy's SIGKILL
    finally:
        held.stop(timeout=0)
    settle_every_task(sandbox)  # the outbox's mail, handed over once, is sent before it is looked for
    kept, mail = users(sandbox), welcomed(sandbox)
    return {way: int(email in kept and email not in mail) for way, email in emails.items()}


# -- the relay killed between the hand-over and the mark -----------------------------------------------------------


@dataclass
class RelayWindow:
    """One outbox mail whose relay died in its window: handed over, never marked, handed over again."""

    handed_over: int  # times the mail went to the queue
    sent: int  # copies the mail server received


def relay_killed_in_its_window(sandbox: Sandbox) -> RelayWindow:
    """A relay claims a row, hands its mail to Huey and dies before the mark (this cell plays it: the row is written
    claimed by no live process); once the claim's lease runs out, the running relay hands it over again, with the
    same Message-ID, and the workers' send-once guard skips the copy."""
    sandbox = running_sandbox(sandbox)
    afresh(sandbox)
    app = sandbox.app
    with app.app_context():
        row = OutboxMail.of(welcome_message(User(email="window@example.com", name="window")), queue="queue")
        row.claimed_at, row.claimed_by = time.time(), 0  # claimed by a relay that is gone
        db.session.add(row)
        db.session.commit()
        hand_over(row.queue, message_from(row.message))  # handed over; the relay is killed before the mark
        db.session.remove()
    wait_until(lambda: sandbox.stats.snapshot()["queue"]["accepted"] >= 2, SETTLE_SECONDS, "the next relay")
    settle(sandbox)
    time.sleep(0.2)  # a copy still on its way would be counted too
    handed = sandbox.stats.snapshot()["queue"]["accepted"]
    sent = welcomed(sandbox).count("window@example.com")
    return RelayWindow(handed_over=handed, sent=sent)


# -- response times at 20 clients, beside /ping's ------------------------------------------------------------------


def response_times(sandbox: Sandbox, requests: int = 30, ways=TIMED_WAYS) -> dict[str, Samples]:
    """`requests` sign-ups per way, and as many /ping, from 20 clients at once (no gate): the samples, by way."""
    sandbox = running_sandbox(sandbox)
    timed: dict[str, Samples] = {}
    for way in ways:
        afresh(sandbox)
        emails = [f"timed-{way}-{n}@example.com" for n in range(requests)]
        timed[way] = Samples(way, run_clients(emails, lambda email, way=way: sign_up(sandbox, way, email)))
    ping = f"{sandbox.url}ping"
    timed["/ping"] = Samples("/ping", run_clients(range(requests), lambda _: timed_request(ping)))
    afresh(sandbox)
    return timed


# -- the table ------------------------------------------------------------------------------------------------------


@dataclass
class Measured:
    """Everything the lesson's table shows, from one run."""

    counts: dict[str, WayCount]
    killed: dict[str, int]
    window: RelayWindow
    timed: dict[str, Samples]

    def table(self) -> Table:
        """One row per way: what it misses, what it sends for nobody, what a kill loses, its p50 and p99."""
        ping = self.timed["/ping"]
        rows = []
        for way, count in self.counts.items():
            samples = self.timed.get(way)
            rows.append([
                way, f"{count.missing} of {count.users}", f"{count.rollback_tasks} run, {count.rollback_mail} mailed",
                self.killed.get(way, "-"),
                f"{self.window.handed_over} handed over, {self.window.sent} sent" if way == "outbox" else "-",
                f"{samples.p50_ms:.0f} / {samples.p99_ms:.0f}" if samples else "-",
            ])  # fmt: skip
        rows.append(["/ping", "", "", "", "", f"{ping.p50_ms:.0f} / {ping.p99_ms:.0f}"])
        columns = ["way", "welcome missing (users who exist)", f"tasks for rollbacks (of {count.rolled_back})",
                   "lost to a kill after COMMIT", "relay killed before the mark", "p50 / p99 ms"]  # fmt: skip
        return Table(columns, rows, caption=f"{CLIENTS} clients, Huey, the commit held until the worker looked")

    def p50_ratio(self, way: str, other: str) -> float:
        """`way`'s median response over `other`'s."""
        return self.timed[way].p50_ms / self.timed[other].p50_ms


def measure_ways(sandbox: Sandbox, ways=WAYS, requests: int = 30) -> Measured:
    """The lesson's table, measured: each way's counts under the gate, the kill, the relay's window, the timings."""
    counts = {way: count_way(sandbox, way) for way in ways}
    killed = kill_between_commit_and_enqueue(sandbox)
    window = relay_killed_in_its_window(sandbox)
    return Measured(counts, killed, window, response_times(sandbox, requests))


def race_without_gate(sandbox: Sandbox, signups: int = CLIENTS) -> int:
    """In-transaction sign-ups at 20 clients with the commit not held: how many users missed their welcome mail."""
    return count_way_ungated(sandbox, "in-transaction", signups)


def count_way_ungated(sandbox: Sandbox, way: str, signups: int) -> int:
    """Users of `signups` sign-ups, the commit let through at once, who got no welcome mail."""
    sandbox = running_sandbox(sandbox)
    afresh(sandbox)
    run_clients([f"free-{n}@example.com" for n in range(signups)], lambda email: sign_up(sandbox, way, email))
    settle_every_task(sandbox)
    mail = welcomed(sandbox)
    return sum(email not in mail for email in users(sandbox))


# -- the outbox's oldest age through a burst and a stopped relay ---------------------------------------------------


@dataclass
class AgeTrace:
    """`queues.outbox` of GET /api/queue sampled through a burst and a relay stopped then restarted."""

    alert_after: float  # the alert fires when the oldest mail is older than this (s)
    times: list[float] = field(default_factory=list)  # seconds since the start
    waiting: list[int] = field(default_factory=list)
    oldest: list[float] = field(default_factory=list)  # 0 when nothing waits
    stopped_at: float = 0.0
    restarted_at: float = 0.0
    alert_at: float | None = None  # when the oldest age first passed alert_after

    @property
    def alert_seconds_after_stop(self) -> float | None:
        """How long after the relay stopped the alert fired."""
        return None if self.alert_at is None else self.alert_at - self.stopped_at

    def before_stop(self, values: list) -> list:
        """The samples taken before the relay stopped."""
        return [value for at, value in zip(self.times, values, strict=True) if at < self.stopped_at]

    def plot(self):
        """Waiting mail and the oldest one's age over time, the relay's stop shaded and the alert marked."""
        figure, (count_axis, age_axis) = new_figure(height=4.2, nrows=2, sharex=True)
        count_axis.step(self.times, self.waiting, where="post", color="tab:blue")
        count_axis.set_ylabel("waiting")
        age_axis.plot(self.times, self.oldest, color="tab:red")
        age_axis.axhline(self.alert_after, color="grey", linestyle="--", label=f"alert at {self.alert_after:g} s")
        if self.alert_at is not None:
            age_axis.axvline(self.alert_at, color="tab:red", linestyle=":", label="alert fires")
        age_axis.set_ylabel("oldest age (s)")
        age_axis.set_xlabel("seconds")
        for axis in (count_axis, age_axis):
            axis.axvspan(self.stopped_at, self.restarted_at, color="grey", alpha=0.15)
        age_axis.legend(loc="upper left", fontsize="small")
        count_axis.set_title("The outbox through a burst, and a relay stopped (shaded), then restarted")
        return figure


def oldest_age_trace(
    sandbox: Sandbox, burst: int = 30, stop_seconds: float = 1.5, alert_after: float = 1.0, rate: float = 10.0
) -> AgeTrace:
    """A burst of `burst` outbox sign-ups at 20 clients; then the relay stopped, sign-ups at `rate` a second for
    `stop_seconds`, and the relay restarted (it is stopped until its new process is ready); GET /api/queue's `queues.outbox` sampled every 50 ms throughout."""
    sandbox = running_sandbox(sandbox)
    afresh(sandbox)
    trace = AgeTrace(alert_after)
    started = time.monotonic()
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            outbox = call(sandbox, "GET", "api/queue").json["queues"]["outbox"]
            now = time.monotonic() - started
            trace.times.append(now)
            trace.waiting.append(outbox["waiting"])
            trace.oldest.append(outbox["oldest_age_s"] or 0.0)
            if trace.alert_at is None and (outbox["oldest_age_s"] or 0.0) > alert_after:
                trace.alert_at = now
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, name="outbox-sampler")
    sampler.start()
    try:
        time.sleep(0.2)
        run_clients([f"burst-{n}@example.com" for n in range(burst)], lambda email: sign_up(sandbox, "outbox", email))
        wait_until(lambda: outbox_empty(sandbox), SETTLE_SECONDS, "the relay")
        time.sleep(0.3)
        sandbox.stop_relay()
        trace.stopped_at = time.monotonic() - started
        number = 0
        while time.monotonic() - started < trace.stopped_at + stop_seconds:
            sign_up(sandbox, "outbox", f"steady-{number}@example.com")
            number += 1
            time.sleep(1 / rate)
        sandbox.start_relay()  # it takes a few seconds to start: the mail keeps waiting meanwhile
        trace.restarted_at = time.monotonic() - started
        wait_until(lambda: outbox_empty(sandbox), SETTLE_SECONDS, "the restarted relay")
        time.sleep(0.6)
    finally:
        done.set()
        sampler.join(5)
    afresh(sandbox)
    return trace


# -- the exercise: the learner's after-commit hook -----------------------------------------------------------------


def _sign_up_with(on_commit, email: str, fail: bool = False) -> None:
    """The after-commit way with the learner's `on_commit`, in the current request: the task queued by the hook."""
    g.fail_after_enqueue = fail
    user = User(email=email, name=email.split("@")[0])
    db.session.add(user)
    try:
        db.session.flush()
        user_id = user.id
        on_commit(lambda: enqueue_task("queue", send_welcome, user_id))
        rest_of_the_request(user)
        db.session.commit()
    except LaterStepFailed:
        db.session.rollback()


def _duplicate_with(on_commit, email: str) -> None:
    """A sign-up whose hook is asked for before the INSERT, which then fails on an address already signed up."""
    db.session.add(User(email=email, name="again"))
    on_commit(lambda: enqueue_task("queue", send_welcome_to, email, "again"))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()  # the database rolled back already: the session's rollback is a soft one


def check_after_commit_hook(sandbox: Sandbox, on_commit) -> Report:
    """Run the after-commit way with the learner's `on_commit(callback)`, on the sandbox's database, Huey consumer
    and mail server: a commit held until the worker looked, a rollback, a failed INSERT, each followed by a commit."""
    sandbox = running_sandbox(sandbox)
    afresh(sandbox)
    app = sandbox.app
    report = Report("Checked with real sign-ups in the sandbox's database, tasks run by its Huey consumer:")
    try:
        with sandbox.commit_gate.holding(until=tasks_settled("queue", app), timeout=10), app.test_request_context():
            _sign_up_with(on_commit, "first@example.com")
        before = sandbox.stats.snapshot()["queue"]["accepted"]
        with app.test_request_context():  # one request: a step fails, the view goes on and commits another user
            _sign_up_with(on_commit, "gone@example.com", fail=True)
            _sign_up_with(on_commit, "next@example.com")
        queued_in_rollback_request = sandbox.stats.snapshot()["queue"]["accepted"] - before
        with app.test_request_context():  # one request: a user, the same address again, another user
            _sign_up_with(on_commit, "dup@example.com")
            _duplicate_with(on_commit, "dup@example.com")
            _sign_up_with(on_commit, "last@example.com")
    except Exception as raised:  # the learner's code
        report.checks.append(Check("your hook ran", False, f"it raised {error_text(raised)}"))
        return report
    settle_every_task(sandbox)
    mail = welcomed(sandbox)
    tasks = sandbox.stats.snapshot()["queue"]["accepted"]
    report.checks += [
        Check("a user whose commit is slow is welcomed (the task is queued after COMMIT)", "first@example.com" in mail,
              "run the callbacks in the session's after_commit event, not when on_commit is called"),
        Check("a rolled-back sign-up queues nothing (the view's next commit runs only its own task)",
              queued_in_rollback_request == 1 and "gone@example.com" not in mail
              and mail.count("next@example.com") == 1 and "last@example.com" in mail,
              "drop the callbacks in after_rollback, or the next commit runs the rollback's task too"),
        Check("a failed INSERT queues nothing (its rollback is a soft one)", mail.count("dup@example.com") == 1,
              "drop them when the transaction rolls back: the failed INSERT rolled it back"),
        Check("one task per user committed", tasks == 4, f"{tasks} tasks were queued for 4 users committed"),
    ]  # fmt: skip
    afresh(sandbox)
    return report

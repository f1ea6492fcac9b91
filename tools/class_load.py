"""The course service under a class's load: `python -m tools.class_load [--learners 200] [--answers 30] [--json]`.

It starts a JupyterHub of its own on loopback (DummyAuthenticator, configurable-http-proxy) with the course service
configured as INSTRUCTORS.md configures a plain hub (the hub starts it), makes the learners and a hub token for each
with the scopes a learner's server token holds for the service, then every learner sends its answers through the
hub's proxy, spread evenly over the same minute, one POST per answer as a kernel's Check sends it: the closing and
lesson questions and the checkpoints, some answered twice (a second attempt, with a new id), some POSTs sent again
with the same id (the reply lost, the kernel sending it again), and a POST that fails retried with its id.

It reports the POST's p50 and p99, the first POST of each learner apart (only then does the service ask the hub
whose token it is: HubAuth caches the answer for its cache_max_age, 300 s), the answers stored against the answers
sent (exactly once), and the service's memory (USS) and database size. A measurement run by hand on a quiet
machine, not a test: the load generator shares the machine with the hub, its proxy and the service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from contextlib import suppress
from datetime import datetime, timezone
from pathlib import Path

import psutil

from quiz import load_bank
from quiz.model import Question
from quiz.service import hub_config
from quiz.service.storage import DATABASE
from sandbox_app.processes.child import ChildError, ChildProcess
from sandbox_app.processes.ports import free_port

MB = 1e6
RETRIES = 5  # a POST that fails is sent again with the same id, up to this many times
RETRY_AFTER = 0.5  # seconds between those tries
RETRIED_STATUSES = {502, 503, 504, 599}  # the proxy or the service not answering (599: no reply at all)
SECOND_ATTEMPT_EVERY = 6  # every sixth answer is a second attempt at the one before

HUB_CONFIG = """\
c = get_config()  # noqa: F821
c.JupyterHub.bind_url = "http://127.0.0.1:{port}/"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}/"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = {state!r} + "/proxy.pid"
c.JupyterHub.db_url = "sqlite:///" + {state!r} + "/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = {state!r} + "/cookie_secret"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
# The load generator's own access: it makes the learners and their tokens.
c.JupyterHub.services = [{{"name": "class-load", "api_token": {api_token!r}}}]
c.JupyterHub.load_roles = [{{"name": "class-load", "services": ["class-load"], "scopes": ["admin:users", "tokens"]}}]
from quiz.service import hub_config
hub_config.configure(c, data_dir={data!r}, url={service_address!r}, kernel_url={service_url!r})
"""


class LoadHub(ChildProcess):
    """A JupyterHub with the course service (managed) and no learner's server: learners are users with tokens."""

    def __init__(self, root: Path) -> None:
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.data = root / "course-service"
        config = root / "jupyterhub_config.py"
        config.write_text(
            HUB_CONFIG.format(
                port=self.port, hub_port=free_port(), proxy_api_port=free_port(), state=str(root),
                api_token=self.token, data=str(self.data), service_address=f"http://127.0.0.1:{free_port()}",
                service_url=self.service_url,
            )
        )  # fmt: skip
        # Run from a hub's terminal, this process has the learner's own hub variables: not for this hub.
        env = {name: value for name, value in os.environ.items() if not name.startswith(("JUPYTERHUB_", "JPY_"))}
        command = [sys.executable, "-m", "jupyterhub", "-f", config]
        super().__init__(command, root / "jupyterhub.log", what="JupyterHub", env=env, cwd=root,
                         ready=self.service_answers, startup_timeout=90)  # fmt: skip

    @property
    def url(self) -> str:
        """The hub's public URL (its proxy)."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def service_url(self) -> str:
        """The course service through the hub's proxy, as learners' kernels reach it."""
        return f"{self.url}services/{hub_config.SERVICE_NAME}/"

    def service_answers(self) -> bool:
        """The hub, its proxy and the service are up: the service's health check answers through the proxy."""
        try:
            with urllib.request.urlopen(self.service_url + "api/health", timeout=2) as reply:
                return reply.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def api(self, method: str, path: str, body: dict | None = None):
        """Call the hub's REST API with the load generator's token; the parsed reply."""
        request = urllib.request.Request(
            f"{self.url}hub/api/{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as reply:
            return json.loads(reply.read() or b"null")

    def service_process(self) -> psutil.Process | None:
        """The course service's process (the hub started it)."""
        for member in self.processes():
            with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                if member.cmdline()[1:3] == ["-m", "quiz.service"]:
                    return member
        return None


def make_learners(hub: LoadHub, count: int) -> dict[str, str]:
    """Create the learners; a hub token of each, with what a learner's server token holds for the service."""
    names = [f"learner{number:03d}" for number in range(1, count + 1)]
    hub.api("POST", "users", {"usernames": names})
    scopes = [hub_config.ACCESS_SCOPE, hub_config.WRITE_SCOPE]
    body = {"scopes": scopes, "expires_in": 3600, "note": "class load"}
    return {name: hub.api("POST", f"users/{name}/tokens", body)["token"] for name in names}


def answer_items() -> list[tuple[str, Question]]:
    """What a learner answers, in turn: the closing and lesson questions, then the checkpoints."""
    bank = load_bank()
    items = [("question", question) for question in (*bank.questions, *bank.lesson_questions)]
    return items + [("checkpoint", checkpoint) for checkpoint in bank.checkpoints]


def answer_plan(name: str, number: int, answers: int, items: list[tuple[str, Question]]) -> list[dict]:
    """A learner's answers in the order sent: the items in turn, every sixth a second attempt at the one before."""
    session, attempts, plan, previous = uuid.uuid4().hex[:12], {}, [], None
    for index in range(answers):
        again = previous is not None and index % SECOND_ATTEMPT_EVERY == SECOND_ATTEMPT_EVERY - 1
        kind, item = previous if again else items[(number + index) % len(items)]  # learners start apart
        previous = (kind, item)
        attempts[item.id] = attempts.get(item.id, 0) + 1
        record = {"id": uuid.uuid4().hex, "learner": name, "session": session, kind: item.id,
                  "attempt": attempts[item.id], "version": "class-load", **_answer(kind, item)}  # fmt: skip
        plan.append(record)
    return plan


def _answer(kind: str, item: Question) -> dict:
    """An answer's fields as the kernel records them (right ones: the report's counts do not matter here)."""
    if kind == "question":
        answer = list(item.answer) if isinstance(item.answer, tuple) else item.answer
        return {"answer": answer, "correct": True, **({"lesson": item.lesson} if item.lesson else {})}
    value = 300.0 if item.kind == "numeric" else item.options[0].key
    return {"answer": value, "correct": True, "measured": 305.0 if item.kind == "numeric" else value, "unit": item.unit}


async def run_load(hub: LoadHub, tokens: dict[str, str], plans: dict[str, list[dict]], seconds: float,
                   resend: float, seed: int) -> dict:  # fmt: skip
    """Every learner sends its plan, spread over `seconds`; the POSTs' latencies and what the service said."""
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

    AsyncHTTPClient.configure(None, max_clients=len(tokens))
    client = AsyncHTTPClient()
    url = hub.service_url + "api/answers"
    answers = max(len(plan) for plan in plans.values())
    interval = seconds / answers
    rng = random.Random(seed)
    counts = {"posts": 0, "stored": 0, "duplicates": 0, "rejected": 0, "resent": 0, "retried": 0, "unsent": 0}
    latencies: dict[str, list[float]] = {"first": [], "later": []}
    memory = {"peak": 0.0}
    loop = asyncio.get_running_loop()
    start = loop.time() + 1.0

    async def post(token: str, record: dict, first: bool) -> bool:
        body = json.dumps({"answers": [record]})
        headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
        for _try in range(RETRIES + 1):
            counts["posts"] += 1
            began = time.perf_counter()
            try:
                reply = await client.fetch(HTTPRequest(url, method="POST", body=body, headers=headers,
                                                       request_timeout=30))  # fmt: skip
            except HTTPClientError as error:
                if error.code not in RETRIED_STATUSES:
                    counts["rejected"] += 1
                    return False
            except OSError:
                pass
            else:
                latencies["first" if first else "later"].append(time.perf_counter() - began)
                result = json.loads(reply.body)
                counts["stored"] += result["stored"]
                counts["duplicates"] += result["duplicates"]
                counts["rejected"] += len(result["rejected"])
                return True
            counts["retried"] += 1
            first = False
            await asyncio.sleep(RETRY_AFTER)
        counts["unsent"] += 1
        return False

    async def learner(index: int, name: str) -> None:
        offset = index * interval / len(tokens)  # the class's POSTs evenly spread, not in bursts
        for number, record in enumerate(plans[name]):
            await asyncio.sleep(max(0.0, start + offset + number * interval - loop.time()))
            record = {**record, "time": datetime.now(timezone.utc).isoformat(timespec="microseconds")}
            if await post(tokens[name], record, first=number == 0) and rng.random() < resend:
                counts["resent"] += 1  # the reply lost on its way: the kernel, not knowing, sends the answer again
                await post(tokens[name], record, first=False)

    async def sample_memory() -> None:
        while True:
            memory["peak"] = max(memory["peak"], service_memory_mb(hub))
            await asyncio.sleep(1.0)

    sampler = asyncio.ensure_future(sample_memory())
    began = time.monotonic()
    await asyncio.gather(*(learner(index, name) for index, name in enumerate(tokens)))
    elapsed = time.monotonic() - began
    sampler.cancel()
    memory["peak"] = max(memory["peak"], service_memory_mb(hub))
    client.close()
    return {"counts": counts, "latencies": latencies, "elapsed": elapsed, "memory_peak_mb": memory["peak"]}


def service_memory_mb(hub: LoadHub) -> float:
    """The service's unique memory (USS) in MB, 0 if it is not running."""
    process = hub.service_process()
    with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
        return process.memory_full_info().uss / MB if process else 0.0
    return 0.0


def stored_ids(data: Path) -> tuple[set[tuple[str, str]], int]:
    """The (learner, id) pairs in the service's database, and its number of rows."""
    with sqlite3.connect(f"file:{data / DATABASE}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT learner, id FROM answers").fetchall()
    return set(rows), len(rows)


def percentile_ms(values: list[float], percent: int) -> float | None:
    """The percent-th percentile in ms (None without values)."""
    if len(values) < 2:
        return round(values[0] * 1000, 1) if values else None
    return round(statistics.quantiles(values, n=100, method="inclusive")[percent - 1] * 1000, 1)


def summary(learners: int, answers: int, seconds: float, plans: dict, run: dict, data: Path, start_mb: float) -> dict:
    """The figures, as --json prints them."""
    sent = {(record["learner"], record["id"]) for plan in plans.values() for record in plan}
    stored, rows = stored_ids(data)
    everything = run["latencies"]["first"] + run["latencies"]["later"]
    disk = sum(path.stat().st_size for path in data.glob(DATABASE + "*"))
    return {
        "learners": learners,
        "answers_per_learner": answers,
        "seconds_planned": seconds,
        "seconds_taken": round(run["elapsed"], 1),
        "answers_sent": len(sent),
        "posts": run["counts"]["posts"],
        "posts_per_s": round(run["counts"]["posts"] / run["elapsed"], 1),
        "sent_again_same_id": run["counts"]["resent"],
        "retried_after_a_failure": run["counts"]["retried"],
        "p50_ms": percentile_ms(everything, 50),
        "p99_ms": percentile_ms(everything, 99),
        "max_ms": round(max(everything) * 1000, 1) if everything else None,
        "first_post_p50_ms": percentile_ms(run["latencies"]["first"], 50),
        "first_post_p99_ms": percentile_ms(run["latencies"]["first"], 99),
        "cached_p50_ms": percentile_ms(run["latencies"]["later"], 50),
        "cached_p99_ms": percentile_ms(run["latencies"]["later"], 99),
        "stored": len(sent & stored),
        "lost": len(sent - stored),
        "stored_twice": rows - len(stored),
        "duplicates_acknowledged": run["counts"]["duplicates"],
        "rejected": run["counts"]["rejected"],
        "never_acknowledged": run["counts"]["unsent"],
        "service_uss_mb_before": round(start_mb, 1),
        "service_uss_mb_peak": round(run["memory_peak_mb"], 1),
        "database_mb": round(disk / MB, 2),
    }


def table(figures: dict) -> str:
    """The figures as a few lines for a terminal."""
    f = figures
    return "\n".join([
        f"{f['learners']} learners x {f['answers_per_learner']} answers over {f['seconds_taken']} s"
        f" (planned {f['seconds_planned']:g} s): {f['answers_sent']} answers, {f['posts']} POSTs"
        f" ({f['posts_per_s']}/s; {f['sent_again_same_id']} sent again with the same id,"
        f" {f['retried_after_a_failure']} retried after a failure)",
        f"answer POST through the hub's proxy: p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms, max {f['max_ms']} ms",
        f"  each learner's first POST (the service asks the hub about the token): p50 {f['first_post_p50_ms']} ms,"
        f" p99 {f['first_post_p99_ms']} ms",
        f"  later POSTs (HubAuth's cache answers): p50 {f['cached_p50_ms']} ms, p99 {f['cached_p99_ms']} ms",
        f"stored {f['stored']} of {f['answers_sent']} answers sent: {f['lost']} lost, {f['stored_twice']} stored twice;"
        f" {f['duplicates_acknowledged']} duplicates acknowledged, {f['rejected']} rejected,"
        f" {f['never_acknowledged']} never acknowledged",
        f"the service: {f['service_uss_mb_before']} MB USS before the load, {f['service_uss_mb_peak']} MB at its peak;"
        f" its database {f['database_mb']} MB",
    ])  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m tools.class_load", description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=200, help="learners, each with a hub token (default 200)")
    parser.add_argument("--answers", type=int, default=30, help="answers each learner sends (default 30)")
    parser.add_argument("--seconds", type=float, default=60.0, help="over how long (default 60)")
    parser.add_argument("--resend", type=float, default=0.1,
                        help="the share of answers sent again with the same id, a lost reply (default 0.1)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1, help="the resends' random seed (default 1)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Measure; 1 if the hub did not start or answer, 2 for a bad command line or no proxy."""
    args = build_parser().parse_args(argv)
    if args.learners < 1 or args.answers < 1 or args.seconds <= 0 or not 0 <= args.resend <= 1:
        print("error: --learners and --answers from 1, --seconds above 0, --resend from 0 to 1", file=sys.stderr)
        return 2
    if shutil.which("configurable-http-proxy") is None:
        print(
            "error: configurable-http-proxy is not installed: npm install -g configurable-http-proxy", file=sys.stderr
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="class-load-") as folder:
        hub = LoadHub(Path(folder))
        try:
            hub.start()
            tokens = make_learners(hub, args.learners)
            items = answer_items()
            plans = {name: answer_plan(name, number, args.answers, items) for number, name in enumerate(tokens)}
            start_mb = service_memory_mb(hub)
            run = asyncio.run(run_load(hub, tokens, plans, args.seconds, args.resend, args.seed))
            figures = summary(args.learners, args.answers, args.seconds, plans, run, hub.data, start_mb)
        except (ChildError, urllib.error.URLError, OSError) as error:
            print(f"error: the class's hub failed: {error}\n{hub.read_log()[-2000:]}", file=sys.stderr)
            return 1
        finally:
            hub.stop()
    print(json.dumps(figures, indent=2) if args.json else table(figures))
    if hub.killed:
        print(f"warning: processes had to be killed after the hub stopped: {hub.killed}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""ApacheBench on /ping: the sandbox against a bare Flask app on waitress, each in its own process, in one run.

`python -m tools.bench_http [--requests N] [--rounds R] [--json]`; needs `ab` (apt package apache2-utils).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sandbox_app.addresses import KEY_HEADER
from sandbox_app.processes.child import ChildError, ChildProcess

CONCURRENCIES = (1, 20)
TARGET_RATIO = 0.5  # the sandbox serves /ping at least half as fast as a bare app on the same server
BARE_WORKERS = 4
START_TIMEOUT = 30.0
AB_TIMEOUT = 300.0
WARMUP_REQUESTS = 100

# The baseline: one route answering what the sandbox's /ping answers, on waitress with as many threads.
BARE_APP = f"""
from flask import Flask
from waitress.server import create_server

from sandbox_app.processes.env import report_ready

app = Flask("bare")
app.get("/ping")(lambda: {{"pong": True}})
server = create_server(app, host="127.0.0.1", port=0, threads={BARE_WORKERS})
report_ready(url=f"http://127.0.0.1:{{server.effective_port}}/", key=None)
server.run()
"""

SERVERS = {
    # No queue consumer: /ping does not use it, and the in-kernel sandbox starts none either.
    "sandbox": [sys.executable, "-m", "sandbox_app", "--port", "0", "--queue-workers", "0"],
    "bare": [sys.executable, "-c", BARE_APP],
}


def start_server(name: str, folder: Path) -> tuple[ChildProcess, str, dict[str, str]]:
    """Start one server; (its process, the /ping URL, the headers a request needs)."""
    log = folder / f"{name}.log"
    # Each reports its URL and key (None when open) through its ready file, not in what it prints.
    child = ChildProcess(SERVERS[name], log, what=f"the {name} app", reports_ready=True).start(START_TIMEOUT)
    key = child.report["key"]
    return child, child.report["url"] + "ping", {KEY_HEADER: key} if key else {}


def run_ab(url: str, headers: dict[str, str], requests: int, concurrency: int, folder: Path) -> dict:
    """One `ab` run: requests per second, and p50/p99 in ms from its percentile file (its table rounds to 1 ms)."""
    percentiles = folder / "percentiles.csv"
    command = ["ab", "-q", "-n", str(requests), "-c", str(concurrency), "-e", str(percentiles)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=AB_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} {url} failed: {done.stderr.strip() or done.stdout.strip()}")
    return parse_ab(done.stdout, percentiles.read_text())


def parse_ab(report: str, percentiles_csv: str) -> dict:
    """The figures of one `ab` run; ValueError if any request failed, or if ab's percentile file is not in order.

    ab's `-e` file reads past its samples for the 99th percentile when a run has fewer than 100 requests
    (seen with ab 2.3: "99,0.257" after "98,4.458"): such a run cannot give a p99.
    """
    field = lambda label: re.search(rf"^{label}:\s+([\d.]+)", report, re.MULTILINE)
    failed = int(field("Failed requests").group(1))
    non_2xx = int(field("Non-2xx responses").group(1)) if field("Non-2xx responses") else 0
    if failed or non_2xx:
        raise ValueError(f"ab saw {failed} failed and {non_2xx} non-2xx responses:\n{report}")
    by_percent = {
        int(percent): float(ms) for percent, ms in (line.split(",") for line in percentiles_csv.splitlines()[1:])
    }
    times = [by_percent[percent] for percent in sorted(by_percent)]
    if times != sorted(times):
        raise ValueError("ab's percentile file is out of order (a run of fewer than 100 requests?): no p99 from it")
    return {
        "rps": float(field("Requests per second").group(1)),
        "p50_ms": by_percent[50],
        "p99_ms": by_percent[99],
    }


def measure(targets: dict, requests: int, rounds: int, folder: Path) -> list[dict]:
    """Every server at every concurrency, `rounds` times; the servers take turns going first."""
    runs = []
    for url, headers in targets.values():
        run_ab(url, headers, WARMUP_REQUESTS, 1, folder)  # first requests pay for lazy setup
    for round_no in range(rounds):
        for concurrency in CONCURRENCIES:
            names = list(targets) if round_no % 2 == 0 else list(reversed(targets))
            for name in names:
                url, headers = targets[name]
                figures = run_ab(url, headers, requests, concurrency, folder)
                runs.append({"server": name, "concurrency": concurrency, "round": round_no, **figures})
    return runs


def median_run(runs: list[dict], server: str, concurrency: int) -> dict:
    """Of one server's runs at one concurrency, the one with the median throughput."""
    mine = sorted((run for run in runs if (run["server"], run["concurrency"]) == (server, concurrency)),
                  key=lambda run: run["rps"])  # fmt: skip
    return mine[(len(mine) - 1) // 2]


def summarize(runs: list[dict]) -> list[dict]:
    """One row per concurrency: each server's median run and the ratio sandbox/bare in requests per second."""
    rows = []
    for concurrency in CONCURRENCIES:
        sandbox, bare = median_run(runs, "sandbox", concurrency), median_run(runs, "bare", concurrency)
        ratio = sandbox["rps"] / bare["rps"]
        rows.append({"concurrency": concurrency, "sandbox": sandbox, "bare": bare, "ratio": round(ratio, 3),
                     "target_met": ratio >= TARGET_RATIO})  # fmt: skip
    return rows


def bench(requests: int, rounds: int) -> dict:
    """Start both servers, measure them with `ab`, stop them; the figures."""
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        folder = Path(tmp)
        children, targets = [], {}
        try:
            for name in SERVERS:
                child, url, headers = start_server(name, folder)
                children.append(child)
                targets[name] = (url, headers)
            runs = measure(targets, requests, rounds, folder)
        finally:
            for child in children:
                child.stop()
    return {"requests": requests, "rounds": rounds, "target_ratio": TARGET_RATIO, "bare_workers": BARE_WORKERS,
            "results": summarize(runs), "runs": runs}  # fmt: skip


def format_table(result: dict) -> str:
    """The figures as text: one line per server and concurrency, then the ratios."""
    lines = [
        f"ab -n {result['requests']} on /ping, median of {result['rounds']} round(s); "
        f"bare = one Flask route on waitress, {result['bare_workers']} threads",
        f"{'server':<9}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}",
    ]
    for row in result["results"]:
        for name in ("sandbox", "bare"):
            run = row[name]
            figures = f"{run['rps']:>10.0f}{run['p50_ms']:>9.2f}{run['p99_ms']:>9.2f}"
            lines.append(f"{name:<9}{row['concurrency']:>8}{figures}")
    for row in result["results"]:
        verdict = "met" if row["target_met"] else "NOT met"
        lines.append(f"sandbox/bare req/s at {row['concurrency']:>2} client(s): {row['ratio']:.2f} "
                     f"(target >= {result['target_ratio']}: {verdict})")  # fmt: skip
    return "\n".join(lines)


def positive(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, measure, print."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench_http", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=positive, default=2000, help="requests per ab run (default 2000)")
    parser.add_argument("--rounds", type=positive, default=3, help="runs per server and concurrency (default 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if shutil.which("ab") is None:
        print("error: ab (ApacheBench) is not on PATH: apt-get install apache2-utils", file=sys.stderr)
        return 2
    if args.requests < max(CONCURRENCIES):
        parser.error(f"--requests must be at least {max(CONCURRENCIES)} (the most clients at once)")
    try:
        result = bench(args.requests, args.rounds)
    except (ChildError, RuntimeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m sandbox_app bench`: every pattern measured in one run, as a table or as JSON."""

import json
import re
import sys
from pathlib import Path

import pytest
from helpers import Finished, run_program

from sandbox_app.cli import main
from sandbox_app.lab import bench as lab_bench
from sandbox_app.lab.bench import BENCH_CHOICES, default_patterns, measure_rows
from sandbox_app.patterns import PATTERNS

KEYS = {"pattern", "p50_ms", "p95_ms", "p99_ms", "rps", "delivered", "lost", "failed", "still_queued", "drain_s",
        "mail_per_s"}  # fmt: skip
DELAY, CONNECT_DELAY = 0.1, 0.05  # seconds: the mail server's wait per message, and before each greeting
SMALL = ["--smtp-delay", str(DELAY), "--requests", "20", "--concurrency", "4", "--bulk-messages", "10",
         "--connect-delay", str(CONNECT_DELAY)]  # fmt: skip


def bench(folder: Path, *args, timeout=240) -> Finished:
    """Run the bench command to its end, its output kept in `folder`; a timeout stops all it started."""
    return run_program([sys.executable, "-m", "sandbox_app", "bench", *args], folder, timeout=timeout)


@pytest.mark.slow  # every pattern, measured
def test_json_has_one_object_per_pattern_measured_in_one_run(state_dir):
    done = bench(state_dir / "bench", *SMALL, "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)  # stdout is only the JSON; the progress bars went to stderr
    assert "queue" in done.stderr
    by_pattern = {row["pattern"]: row for row in rows}
    assert list(by_pattern) == ["ping", "blocking", "threaded", "pool", "queue", "bulk"]
    for row in rows:
        assert set(row) >= KEYS
    for name in ["blocking", "threaded", "pool", "queue"]:
        row = by_pattern[name]
        assert (row["delivered"], row["failed"], row["still_queued"], row["lost"]) == (20, 0, 0, 0)
        # Delivered from the first request until the last mail: never faster than the requests came.
        assert 0 < row["mail_per_s"] <= row["rps"] * 1.01 and row["drain_s"] >= 0
    # 4 threads at DELAY each: the pool drains after the burst, blocking has sent all before its last answer.
    assert by_pattern["blocking"]["drain_s"] < by_pattern["pool"]["drain_s"]
    assert by_pattern["blocking"]["blocks_worker"] and not by_pattern["pool"]["blocks_worker"]
    # Ratios from one run: 4 workers held DELAY per blocking send; pool and queue hold none.
    ping, blocking = by_pattern["ping"], by_pattern["blocking"]
    assert blocking["p50_ms"] >= DELAY * 1000
    for name in ["pool", "queue"]:
        assert by_pattern[name]["rps"] >= 2 * blocking["rps"]
        # Above the floor /ping sets in the same run, a fifth of blocking's wait at most.
        assert by_pattern[name]["p50_ms"] - ping["p50_ms"] < (blocking["p50_ms"] - ping["p50_ms"]) / 5
    bulk = by_pattern["bulk"]
    assert (bulk["delivered"], bulk["lost"], bulk["connections"]) == (10, 0, 1)
    assert bulk["delivered_one_connection_each"] == 10
    # Ten greetings waited for one connection each, however fast the machine; reuse waits for one.
    assert bulk["seconds_one_connection_each"] >= 10 * CONNECT_DELAY
    assert bulk["seconds"] < bulk["seconds_one_connection_each"] / 2


@pytest.mark.slow
def test_the_table_names_every_pattern_and_the_bulk_comparison(state_dir):
    done = bench(state_dir / "bench", *SMALL, "--patterns", "pool,queue,bulk")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = f"SMTP delay {DELAY} s, 20 requests per pattern, 4 client(s) at once, app inprocess with 4 threads"
    assert lines[0] == header
    assert [line.split()[0] for line in lines[4:7]] == ["ping", "pool", "queue"]
    assert "pool - ping (p50):" in done.stdout and "queue / blocking" not in done.stdout
    assert "bulk: 10 messages, mail server connect delay 50 ms, no per-message delay" in done.stdout
    assert "connection reuse:" in done.stdout


@pytest.mark.slow  # the app under waitress in a process of its own, and two mail servers timed
def test_under_waitress_with_the_capture_rate_compared(state_dir):
    args = ["--server", "waitress", "--workers", "2", "--patterns", "blocking,threaded", "--requests", "6",
            "--concurrency", "2", "--smtp-delay", str(DELAY), "--capture"]  # fmt: skip
    done = bench(state_dir / "bench", *args)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"SMTP delay {DELAY} s, 6 requests per pattern, 2 client(s) at once, app waitress with 2 threads"
    assert [line.split()[0] for line in lines[4:7]] == ["ping", "blocking", "threaded"]
    capture = re.search(r"sandbox (\d+)/s, bare aiosmtpd Sink (\d+)/s, ratio ([\d.]+)$", done.stdout, re.MULTILINE)
    assert capture, done.stdout
    sandbox_per_s, sink_per_s, ratio = int(capture[1]), int(capture[2]), float(capture[3])
    assert sandbox_per_s > 0 and sink_per_s > 0 and ratio == pytest.approx(sandbox_per_s / sink_per_s, abs=0.01)


@pytest.mark.slow  # the mail server takes 4 s per mail
def test_mail_that_is_only_late_is_still_queued_not_lost(sandbox, monkeypatch):
    # The mail server takes 4 s per mail and the bench stops waiting after 1 s without a delivery: every mail is
    # still in Huey's queue or in a consumer thread's hands when the row is made.
    monkeypatch.setattr(lab_bench, "quiet_seconds", lambda delay: 1.0)
    rows = measure_rows(sandbox, delay=4.0, requests=12, concurrency=4, patterns=["queue"])
    queue = rows[1]
    assert (queue["delivered"], queue["failed"], queue["still_queued"], queue["lost"]) == (0, 0, 12, 0)
    assert queue["mail_per_s"] == 0.0 and queue["drain_s"] >= 1.0


def test_an_unknown_pattern_is_a_usage_error_naming_it(capsys):
    with pytest.raises(SystemExit) as stopped:  # argparse's usage error, as for every other option
        main(["bench", "--patterns", "pool,carrier-pigeon"])
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    assert err.splitlines()[-1].endswith(
        "argument --patterns: unknown pattern(s): carrier-pigeon; choose from " + ", ".join(BENCH_CHOICES)
    )
    assert "Traceback" not in err
    assert all(pattern in err for pattern in PATTERNS)
    assert out == ""


def test_the_gevent_recipe_is_measured_only_under_gunicorn_s_gevent_worker(capsys):
    assert main(["bench", "--patterns", "blocking,gevent", "--requests", "1"]) == 2
    out, err = capsys.readouterr()
    assert err == "error: gevent needs --server gunicorn-gevent: under inprocess no greenlet would run\n" and out == ""
    assert "gevent" not in default_patterns("waitress") and "gevent" in default_patterns("gunicorn-gevent")

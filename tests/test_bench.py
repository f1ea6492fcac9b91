"""`python -m sandbox_app bench`: every pattern measured in one run, as a table or as JSON."""

import json
import subprocess
import sys


KEYS = {"pattern", "p50_ms", "p95_ms", "p99_ms", "rps", "delivered", "lost"}
SMALL = ["--smtp-delay", "0.05", "--requests", "20", "--concurrency", "4", "--bulk-messages", "10",
         "--connect-delay", "0.02"]  # fmt: skip


def bench(*args, timeout=240):
    """Run the bench command; return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "sandbox_app", "bench", *args], capture_output=True, text=True, timeout=timeout
    )


def test_json_has_one_object_per_pattern_measured_in_one_run(state_dir):
    done = bench(*SMALL, "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)  # stdout is only the JSON; the progress bars went to stderr
    assert "queue" in done.stderr
    by_pattern = {row["pattern"]: row for row in rows}
    assert list(by_pattern) == ["ping", "blocking", "threaded", "pool", "queue", "bulk"]
    for row in rows:
        assert KEYS <= set(row)
    for name in ["blocking", "threaded", "pool", "queue"]:
        assert (by_pattern[name]["delivered"], by_pattern[name]["lost"]) == (20, 0)
    assert by_pattern["blocking"]["blocks_worker"] and not by_pattern["pool"]["blocks_worker"]
    # Ratios from one run: 4 workers held 0.05 s per blocking send; pool and queue hold none.
    assert by_pattern["blocking"]["p50_ms"] >= 50
    for name in ["pool", "queue"]:
        assert by_pattern[name]["rps"] >= 2 * by_pattern["blocking"]["rps"]
        assert by_pattern[name]["p50_ms"] < by_pattern["blocking"]["p50_ms"] / 5
    bulk = by_pattern["bulk"]
    assert (bulk["delivered"], bulk["lost"], bulk["connections"]) == (10, 0, 1)
    assert bulk["delivered_one_connection_each"] == 10
    assert bulk["seconds_one_connection_each"] - bulk["seconds"] >= 0.9 * 9 * 0.02


def test_the_table_names_every_pattern_and_the_bulk_comparison(state_dir):
    done = bench(*SMALL, "--patterns", "pool,queue,bulk")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "SMTP delay 0.05 s, 20 requests per pattern, 4 client(s) at once, 4 app workers"
    assert [line.split()[0] for line in lines[4:7]] == ["ping", "pool", "queue"]
    assert "pool - ping (p50):" in done.stdout and "queue / blocking" not in done.stdout
    assert "bulk: 10 messages, mail server connect delay 20 ms, no per-message delay" in done.stdout
    assert "connection reuse:" in done.stdout


def test_an_unknown_pattern_is_a_one_line_error():
    done = bench("--patterns", "pool,carrier-pigeon")
    assert done.returncode == 2
    assert done.stderr == "error: unknown pattern(s): carrier-pigeon; choose from blocking, threaded, pool, queue, bulk\n"
    assert done.stdout == ""

"""`python -m sandbox_app bench --patterns signup-<way>`: lesson 18's sign-ups from the bench's clients, a new address
each, through the real command line (real SMTP, Huey's consumer, the outbox relay, the sandbox's SQLite)."""

import json

import pytest
from test_bench import KEYS, bench

from sandbox_app.cli import main
from sandbox_app.lab.signup_bench import SIGNUP_ROWS

DELAY = 0.05  # seconds the mail server waits per message
SIGNUPS = ["signup-inline", "signup-after-commit", "signup-outbox"]


@pytest.mark.slow  # the bench with its consumer and its relay
def test_the_bench_signs_a_new_address_up_per_request_and_finds_every_welcome_mail(state_dir):
    done = bench(state_dir / "bench", "--smtp-delay", str(DELAY), "--requests", "20", "--concurrency", "4",
                 "--patterns", ",".join(SIGNUPS), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = {row["pattern"]: row for row in json.loads(done.stdout)}
    assert list(rows) == ["ping", *SIGNUPS]
    assert all(set(row) >= KEYS for row in rows.values())
    for name in SIGNUPS:
        row = rows[name]
        # A new address each: every sign-up answered 201, none refused as a duplicate, each welcomed once it drained.
        assert (row["signed_up"], row["delivered"], row["failed"], row["still_queued"], row["lost"]) == (
            20,
            20,
            0,
            0,
            0,
        )
        assert 0 < row["mail_per_s"] <= row["rps"] * 1.01 and row["drain_s"] >= 0
    # Inline waits for the mail server inside the request; the outbox only writes a row.
    inline, outbox = rows["signup-inline"], rows["signup-outbox"]
    assert inline["p50_ms"] >= DELAY * 1000 and inline["blocks_worker"]
    assert inline["p50_ms"] > 2 * outbox["p50_ms"]


def test_each_way_is_named_with_its_queue_and_inline_takes_none(capsys):
    assert SIGNUP_ROWS["signup-outbox"].path == "signup/outbox?via=queue"  # Huey, the first queue
    assert SIGNUP_ROWS["signup-after-commit-rq"].path == "signup/after-commit?via=rq"
    assert SIGNUP_ROWS["signup-inline"].path == "signup/inline"
    with pytest.raises(SystemExit) as stopped:
        main(["bench", "--patterns", "signup-outbox,signup-inline-celery"])  # inline sends in the request
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "unknown pattern(s): signup-inline-celery; choose from" in err and "Traceback" not in err

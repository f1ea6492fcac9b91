"""Sign-ups held just after their COMMIT: `python -m sandbox_app.programs.signup_held WAY:EMAIL...`, for lesson 18 to
SIGKILL a web process there (lab.database_and_queue.kill_between_commit_and_enqueue).

It builds the app its launcher's settings describe (the same database, queue and counters), holds the commit gate
after COMMIT, runs one sign-up of each way named in a thread of its own (as a web process's request threads do), and
reports ready once every one waits at the gate: each user is committed, and nothing after the commit has run.
"""

from __future__ import annotations

import signal
import sys
import threading

from flask import g

from ..database.gate import get_gate
from ..patterns.signup import QUEUED_WAYS, WAYS
from ..processes.env import exit_with_parent, report_ready
from ..queues.registry import FIRST_QUEUE
from ..web.factory import create_app
from .startup import child_settings


def main(argv: list[str] | None = None) -> int:
    """Hold each sign-up after its COMMIT, report ready, and wait to be killed; 2 for an unknown way."""
    sign_ups = [argument.partition(":")[::2] for argument in (sys.argv[1:] if argv is None else argv)]
    if not sign_ups or any(way not in QUEUED_WAYS or "@" not in email for way, email in sign_ups):
        print(f"error: name sign-ups as WAY:EMAIL, WAY one of: {', '.join(QUEUED_WAYS)}", file=sys.stderr)
        return 2
    app = create_app(child_settings())
    gate = get_gate(app)
    gate.hold(at="after-commit", timeout=3600.0)

    def sign_up(way: str, email: str) -> None:
        with app.test_request_context():  # a request's context: its session, its `g`
            g.fail_after_enqueue = False
            WAYS[way](email, way, FIRST_QUEUE)

    for way, email in sign_ups:
        threading.Thread(target=sign_up, args=(way, email), name=f"sign-up-{way}", daemon=True).start()
    exit_with_parent(signal.SIGKILL)  # it is here to be killed: gone with its parent, if not before
    while gate.waiting < len(sign_ups):
        threading.Event().wait(0.01)
    report_ready()
    threading.Event().wait()  # until killed
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The outbox relay: `python -m sandbox_app.programs.outbox_relay` hands the outbox's mail to the queues until stopped.

It builds the same app the web process runs, from the settings its launcher passed in the environment
(`database.relays.RelayProcess`), and runs `patterns.signup.relay.relay_once` in a loop.
"""

from __future__ import annotations

import signal
import sys
import threading

from ..database.relays import POLL_SECONDS
from ..database.sqlite import check_returning, is_sqlite
from ..patterns.signup.relay import relay_once
from ..processes.env import exit_with_parent, report_ready
from ..web.factory import create_app
from .startup import child_settings


def main() -> int:
    """Relay until SIGTERM or SIGINT (the row under way is handed over and marked first); 2 if it cannot run here."""
    app = create_app(child_settings())
    if is_sqlite(app):
        try:
            check_returning()
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    exit_with_parent(signal.SIGTERM)
    poll = app.config.get("OUTBOX_POLL_SECONDS", POLL_SECONDS)
    report_ready()
    while not stop.is_set():
        with app.app_context():
            claimed = relay_once()
        if not claimed:
            stop.wait(poll)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The running sandbox as lesson cells see it: found, described, reset, and waited for."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..sandbox import Sandbox, SandboxNotRunning
from ..waiting import wait_until

LOG_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")  # logging's asctime, as the runner writes it


def running_sandbox(sandbox: Sandbox) -> Sandbox:
    """`sandbox`, checked: SandboxNotRunning (saying what to run) once it has stopped, never another sandbox."""
    if not sandbox.running:
        raise SandboxNotRunning()  # instead of a wall of refused connections
    return sandbox


@dataclass
class Status:
    """A one-line description of a running sandbox, with no port in it."""

    text: str

    def __repr__(self) -> str:
        return self.text


def status(sandbox: Sandbox) -> Status:
    """Say what is running: the app, its workers, the debug mail server and its delay."""
    sandbox = running_sandbox(sandbox)
    server = sandbox.mail_server
    smtp = f"the debug mail server (delay {server.settings.delay:g} s)" if server else "an outside mail server"
    if sandbox.in_process:
        app = f"the app ({sandbox.workers} workers)"
    else:
        app = f"the app under {sandbox.server} in its own process ({sandbox.serving})"
    return Status(f"The sandbox is running: {app} and {smtp}, on {sandbox.host} only.")


def settled(sandbox: Sandbox, patterns=("threaded", "pool")) -> bool:
    """Whether all mail these patterns accepted is delivered or failed by now."""
    counters = sandbox.stats.snapshot()
    return all(c["delivered"] + c["failed"] >= c["accepted"] for name, c in counters.items() if name in patterns)


def wait_until_settled(sandbox: Sandbox, patterns=("threaded", "pool"), timeout: float = 10.0) -> bool:
    """Wait until all mail these patterns accepted is delivered or failed; False if `timeout` s pass first."""
    running_sandbox(sandbox)
    try:
        return wait_until(lambda: settled(sandbox, patterns), timeout, "background sends")
    except TimeoutError:
        return False


def settle(sandbox: Sandbox, pattern: str, accepted: int, timeout: float) -> dict:
    """Wait until `accepted` mails of `pattern` are delivered or failed (or `timeout` s pass); return its counters."""

    def counters_when_settled() -> dict | None:
        counters = sandbox.stats.snapshot()[pattern]
        return counters if counters["delivered"] + counters["failed"] >= accepted else None

    try:
        return wait_until(counters_when_settled, timeout, f"the {pattern} pattern's mail")
    except TimeoutError:
        return sandbox.stats.snapshot()[pattern]


def reset(sandbox: Sandbox, *, settle=("threaded", "pool")) -> None:
    """Let background sends of `settle` patterns finish, then empty the inbox and zero every counter."""
    sandbox = running_sandbox(sandbox)
    wait_until_settled(sandbox, settle)
    sandbox.stats.reset()
    if sandbox.mail_server is not None:
        sandbox.mail_server.clear()
        sandbox.mail_server.reset_counters()


def log_messages(sandbox: Sandbox, last: int | None = None) -> list[str]:
    """The app's log lines without timestamps ("WARNING threaded: mail not delivered: ..."), the `last` few if given."""
    lines = [LOG_TIMESTAMP.sub("", line) for line in running_sandbox(sandbox).read_log()]
    return lines[-last:] if last else lines

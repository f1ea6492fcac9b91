"""The outbox relays: child processes that hand the outbox's mail to the queues, started and stopped like the workers.

A relay builds the same app from the sandbox's settings (the same database, queue names and counters), and asks
this app for what only the launcher runs (Redis and the Celery and RQ workers) over a private channel, as an app
process of its own does (processes.channel).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import replace

from flask import Flask, current_app

from ..config import SandboxConfig, get_settings
from ..processes.channel import LauncherChannel
from ..queues.backend import QUEUES_AT_LAUNCHER, WorkerProcess, launcher, side_by_side, start_side_by_side, unavailable
from ..queues.registry import BACKENDS, serve_queues
from .sqlite import check_returning, is_sqlite

EXTENSION = "sandbox_outbox_relays"
RELAY_PROGRAM = "sandbox_app.programs.outbox_relay"
LEASE_SECONDS = 10.0  # a claimed row comes back to the other relays after this long without being handed over
POLL_SECONDS = 0.05  # an idle relay looks for new rows this often


class RelayProcess(WorkerProcess):
    """One outbox relay: `python -m sandbox_app.programs.outbox_relay`; SIGTERM lets the row under way finish."""

    def __init__(self, settings: SandboxConfig) -> None:
        command = [sys.executable, "-m", RELAY_PROGRAM]
        super().__init__(
            command, settings, what="the outbox relay", name="outbox-relay", workers=1, queue_name="outbox"
        )


class OutboxRelays:
    """The app's relay processes: `start(count)`, `stop()`, `ensure()` (one, on the outbox's first use), `close()`.

    On SQLite one relay at most: SQLite has one writer at a time for the whole file and no row locks, so a second
    relay would only wait for the first one's claim. On PostgreSQL several claim side by side (FOR UPDATE SKIP LOCKED).
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.processes: list[RelayProcess] = []
        self.channel: LauncherChannel | None = None
        self.used = False  # relays were started once: never again behind a lesson's back (it may have stopped them)
        self._lock = threading.RLock()
        app.config.setdefault("OUTBOX_LEASE_SECONDS", LEASE_SECONDS)
        app.config.setdefault("OUTBOX_POLL_SECONDS", POLL_SECONDS)

    def relay_settings(self, settings: dict) -> SandboxConfig:
        """What a relay builds its app from: this app's settings, its queues' names and counters, and the channel."""
        config = self.app.config
        if self.channel is None:
            self.channel = LauncherChannel().start()
            serve_queues(self.channel, self.app)  # the relay's Celery and RQ ask this app for Redis and their workers
        shared = replace(
            get_settings(self.app), queue_name=config["QUEUE_NAME"], stats_path=config["STATS_PATH"],
            database_url=config["SQLALCHEMY_DATABASE_URI"], launcher_port=self.channel.port, launcher_authkey=self.channel.authkey,
        )  # fmt: skip
        overrides = {
            QUEUES_AT_LAUNCHER: True,
            **{backend.workers_setting.key: 0 for backend in BACKENDS.values()},  # it starts no workers of its own
            "OUTBOX_LEASE_SECONDS": config["OUTBOX_LEASE_SECONDS"],
            "OUTBOX_POLL_SECONDS": config["OUTBOX_POLL_SECONDS"],
            **settings,
        }
        return shared.with_app_config(overrides)

    def start(self, count: int = 1, settings: dict | None = None) -> list[RelayProcess]:
        """(Re)start `count` relays with Flask `settings` on top; ValueError for more than one on SQLite, or a SQLite
        too old for the claim; ChildError with its log if one fails."""
        if is_sqlite(self.app):
            check_returning()
            if count > 1:
                raise ValueError("SQLite runs one outbox relay: it has one writer at a time and no row locks to skip")
        with self._lock:
            self.stop()
            self.used = True
            started = [RelayProcess(self.relay_settings(settings or {})) for _ in range(count)]
            self.processes = start_side_by_side(started)
            return started

    def ensure(self) -> None:
        """One relay on the outbox's first use, if none was ever started. An app process of its own asks its launcher."""
        client = launcher(self.app)
        if client is not None:
            if self.used:  # asked once: a round trip to the launcher per sign-up queued the sign-ups behind it
                return
            try:
                client.call("outbox.prepare")
            except OSError as error:
                raise unavailable(error) from None
            self.used = True
            return
        with self._lock:
            if not self.used:
                self.start(1)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the relays gracefully: the row under way is handed over and marked; the rest wait in the outbox
        (until `start()`: a relay stopped on purpose, even before any ran, is not started behind its back)."""
        with self._lock:
            self.used = True
            side_by_side(lambda process: process.stop(timeout), self.processes)
            self.processes = []

    def running(self) -> list[RelayProcess]:
        """The relay processes alive now."""
        return [process for process in self.processes if process.running]

    def close(self) -> None:
        """Stop the relays and the channel they asked this app through."""
        self.stop()
        if self.channel is not None:
            self.channel.stop(1.0)
            self.channel = None


def init_relays(app: Flask) -> OutboxRelays:
    """Give the app its outbox relays (none running yet)."""
    app.extensions[EXTENSION] = OutboxRelays(app)
    return app.extensions[EXTENSION]


def get_relays(app: Flask | None = None) -> OutboxRelays:
    """The app's outbox relays (the current app's when none is given)."""
    return (app or current_app).extensions[EXTENSION]


def serve_relays(channel: LauncherChannel, app: Flask, state: Callable[[], dict]) -> None:
    """On the launcher: start a relay when an app process of its own first uses the outbox ("outbox.prepare"), and
    answer `queues.outbox` of GET /api/queue ("outbox.state"): the launcher runs the relays."""
    channel.serve("outbox.prepare", lambda: get_relays(app).ensure())
    channel.serve("outbox.state", state)

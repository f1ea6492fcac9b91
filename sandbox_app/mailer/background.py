"""Work an app leaves running after a response: what must run, and what must end, when it stops."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask, current_app

EXTENSION = "sandbox_background"


class BackgroundWork:
    """The app's stop hooks (a pool drains, a queue closes) and the waits that follow them (sends still held)."""

    def __init__(self) -> None:
        self._stop_hooks: list[Callable[[], None]] = []
        self._waits: list[Callable[[float], None]] = []

    def on_stop(self, hook: Callable[[], None]) -> None:
        """Run `hook` when the app stops, before the waits."""
        self._stop_hooks.append(hook)

    def wait_for(self, wait: Callable[[float], None]) -> None:
        """When the app stops, after the hooks, call `wait(seconds_left)`: it returns when its work ended."""
        self._waits.append(wait)

    def finish(self, timeout: float) -> None:
        """Run the stop hooks, then the waits, within `timeout` s in all."""
        deadline = time.monotonic() + timeout
        for hook in self._stop_hooks:
            hook()
        for wait in self._waits:
            wait(max(0.0, deadline - time.monotonic()))


def init_background(app: Flask) -> BackgroundWork:
    """Give the app its record of background work."""
    app.extensions[EXTENSION] = BackgroundWork()
    return app.extensions[EXTENSION]


def get_background(app: Flask | None = None) -> BackgroundWork:
    """The app's background work (the current app's when none is given)."""
    return (app or current_app).extensions[EXTENSION]

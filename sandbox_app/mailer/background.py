"""Work an app leaves running after a response: the threads it started and what must run when it stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flask import Flask, current_app

EXTENSION = "sandbox_background"


class BackgroundWork:
    """The sending threads an app started, and the stop hooks (a pool drains, a queue closes)."""

    def __init__(self) -> None:
        self._threads: set[threading.Thread] = set()
        self._stop_hooks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def track(self, thread: threading.Thread) -> threading.Thread:
        """Remember a sending thread, so that stopping the app waits for it; returns it."""
        with self._lock:
            self._threads = {t for t in self._threads if t.is_alive()}
            self._threads.add(thread)
        return thread

    def on_stop(self, hook: Callable[[], None]) -> None:
        """Run `hook` when the app stops, before its sending threads are waited for."""
        self._stop_hooks.append(hook)

    def finish(self, timeout: float) -> None:
        """Run the stop hooks, then wait (up to `timeout` s in all) for every tracked thread."""
        deadline = time.monotonic() + timeout
        for hook in self._stop_hooks:
            hook()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))


def init_background(app: Flask) -> BackgroundWork:
    """Give the app its record of background work."""
    app.extensions[EXTENSION] = BackgroundWork()
    return app.extensions[EXTENSION]


def get_background(app: Flask | None = None) -> BackgroundWork:
    """The app's background work (the current app's when none is given)."""
    return (app or current_app).extensions[EXTENSION]

"""The sandbox's HTTP server: waitress in a background thread, with a clean stop."""

from __future__ import annotations

import logging
import socket
import threading
import time
from contextlib import suppress

from waitress import wasyncore
from waitress.server import create_server

from .waiting import wait_until

# waitress logs a warning whenever requests wait for a free thread ("Task queue depth is 2"):
# under a load test that is expected, and a line in a notebook cell's output would upset nbval.
WAITRESS_LOGGER = logging.getLogger("waitress")
IDLE_TIMEOUT = 30  # seconds an idle connection is kept; it holds no worker thread meanwhile
LISTEN_BACKLOG = 1024  # a burst of clients waits in the kernel's queue instead of being refused
MAX_CLEANUP_INTERVAL = 30  # waitress looks for idle connections this often at most (its default)


class AppServer:
    """waitress serving a WSGI app on `workers` threads; its I/O loop reads each request before a worker takes it."""

    def __init__(self, host: str, port: int, app, workers: int = 4, idle_timeout: int = IDLE_TIMEOUT) -> None:
        # Bound here, before waitress starts its threads: a taken port raises OSError and leaves nothing behind.
        listener = socket.create_server((host, port), backlog=LISTEN_BACKLOG)
        try:
            self._server = create_server(
                app, sockets=[listener], threads=workers, ident="sandbox", backlog=LISTEN_BACKLOG,
                channel_timeout=idle_timeout,
                # An idle connection is closed between idle_timeout and idle_timeout + cleanup_interval seconds.
                cleanup_interval=max(1, min(MAX_CLEANUP_INTERVAL, idle_timeout // 2)),
                # ProxyFix reads X-Forwarded-Prefix (jupyter-server-proxy's); waitress would strip it.
                clear_untrusted_proxy_headers=False,
                # poll(), not select(): select() fails on a file descriptor past 1023, which a kernel holding
                # many sockets (a sandbox's mail server, a load test) reaches.
                asyncore_use_poll=True,
            )  # fmt: skip
        except BaseException:
            listener.close()
            raise
        self.host, self.port, self.workers = host, listener.getsockname()[1], workers
        self.idle_timeout = idle_timeout
        self._thread = threading.Thread(target=self._server.run, name="sandbox-http", daemon=True)
        self._drained = False
        self._stopped = False

    def start(self) -> AppServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def _in_loop(self, thunk) -> None:
        """Run `thunk` in the I/O loop's thread, which owns the connections (here if the loop is not running)."""
        if self._thread.is_alive():
            self._server.trigger.pull_trigger(thunk)
        else:
            thunk()

    def _stop_listening(self) -> None:
        # waitress's own close() would close its trigger too, and the stop still needs it.
        wasyncore.dispatcher.close(self._server)

    def _close_idle(self) -> None:
        """Close each connection with no request in progress and no answer left to send; note whether any remain."""
        for channel in list(self._server.active_channels.values()):
            if not (channel.requests or channel.total_outbufs_len):
                channel.handle_close()  # also wakes a worker waiting to write to it
        self._drained = not self._server.active_channels

    def _drained_now(self) -> bool:
        self._in_loop(self._close_idle)
        return self._drained

    def _close_all(self) -> None:
        """Close every connection and take the trigger out of the loop's map: with nothing left to watch, it returns."""
        for channel in list(self._server.active_channels.values()):
            channel.handle_close()
        self._server.trigger.del_channel()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop listening, let the requests in progress finish and their answers go out, then end every thread."""
        if self._stopped:
            return
        self._stopped = True
        deadline = time.monotonic() + timeout
        left = lambda: max(0.1, deadline - time.monotonic())
        self._in_loop(self._stop_listening)
        # Idle connections close at once; a busy one closes as soon as its answer has gone out. Deciding in the
        # loop's thread means a request cannot arrive between the check and the close. A stuck one is cut below:
        # a stop must not hang on it.
        with suppress(TimeoutError):
            wait_until(self._drained_now, timeout, "requests in progress")
        self._in_loop(self._close_all)
        if self._thread.ident is not None:  # started
            self._thread.join(left())
        dispatcher = self._server.task_dispatcher
        dispatcher.shutdown(cancel_pending=True, timeout=left())
        self._close_trigger(workers_left=bool(dispatcher.threads))

    def _close_trigger(self, workers_left: bool) -> None:
        """Close the trigger's pipe, unless a worker stuck in the app will still write to it when it finishes."""
        trigger = self._server.trigger
        if not workers_left:
            trigger.close()
            return
        # Its descriptors stay open: once closed, their numbers may be given to another file, which that worker's
        # late write would then corrupt. Only the loop's own copy of the read end is closed (it warns if collected).
        trigger.socket.close()

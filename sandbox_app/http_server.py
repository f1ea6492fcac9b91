"""The sandbox's HTTP server: waitress in a background thread, with a clean stop."""

from __future__ import annotations

import logging
import socket
import threading
import time

from waitress import wasyncore
from waitress.server import create_server

from .waiting import wait_until

# waitress logs a warning whenever requests wait for a free thread ("Task queue depth is 2"):
# under a load test that is expected, and a line in a notebook cell's output would upset nbval.
WAITRESS_LOGGER = logging.getLogger("waitress")
IDLE_TIMEOUT = 30  # seconds an idle connection is kept; it holds no worker thread meanwhile
LISTEN_BACKLOG = 1024  # a burst of clients waits in the kernel's queue instead of being refused


class AppServer:
    """waitress serving a WSGI app on `workers` threads; its I/O loop reads each request before a worker takes it."""

    def __init__(self, host: str, port: int, app, workers: int = 4) -> None:
        # Bound here, before waitress starts its threads: a taken port raises OSError and leaves nothing behind.
        listener = socket.create_server((host, port), backlog=LISTEN_BACKLOG)
        self._server = create_server(
            app, sockets=[listener], threads=workers, channel_timeout=IDLE_TIMEOUT, ident="sandbox",
            backlog=LISTEN_BACKLOG,
            # ProxyFix reads X-Forwarded-Prefix (jupyter-server-proxy's); waitress would strip it.
            clear_untrusted_proxy_headers=False,
        )  # fmt: skip
        self.host, self.port, self.workers = host, listener.getsockname()[1], workers
        self._thread = threading.Thread(target=self._server.run, name="sandbox-http", daemon=True)

    def start(self) -> AppServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def _busy(self) -> bool:
        dispatcher = self._server.task_dispatcher
        writing = any(channel.total_outbufs_len for channel in list(self._server.active_channels.values()))
        return bool(dispatcher.active_count or dispatcher.queue or writing)

    def _close_connections(self) -> None:
        for channel in list(self._server.active_channels.values()):
            channel.close()
        self._server.trigger.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop listening, let the requests in progress finish and their answers go out, then end every thread."""
        deadline = time.monotonic() + timeout
        server = self._server
        # Close the listening socket in the I/O loop's thread (the server's own close() would end its trigger too).
        server.trigger.pull_trigger(lambda: wasyncore.dispatcher.close(server))
        try:
            wait_until(lambda: not self._busy(), timeout, "requests in progress")
        except TimeoutError:
            pass  # cancelled below: a stop must not hang on a stuck request
        server.trigger.pull_trigger(self._close_connections)  # with nothing left to watch, the loop returns
        self._thread.join(max(0.1, deadline - time.monotonic()))
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=max(0.1, deadline - time.monotonic()))

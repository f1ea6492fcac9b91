"""The sandbox's HTTP server: werkzeug with a fixed pool of worker threads, quiet."""

from __future__ import annotations

import logging
import socket
from concurrent.futures import ThreadPoolExecutor

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

log = logging.getLogger("sandbox_app.http")
LISTEN_BACKLOG = 1024  # a burst of clients waits in the kernel's queue instead of being refused


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without a log line per request (it would flood notebook cells)."""

    # One request per connection, as a sync production worker does: no idle keep-alive
    # connection can hold a worker while others wait.
    protocol_version = "HTTP/1.0"

    def log_request(self, code="-", size="-") -> None:
        pass

    def log(self, type: str, message: str, *args) -> None:
        log.warning(message.rstrip(), *args)


class WorkerPoolServer(BaseWSGIServer):
    """Serves each request on one of `workers` threads, like gunicorn's threaded workers."""

    multithread = True

    def __init__(self, host: str, port: int, app, workers: int = 4) -> None:
        # Bind here so a taken port raises OSError (werkzeug would print and sys.exit).
        listener = socket.create_server((host, port), backlog=LISTEN_BACKLOG)
        try:
            super().__init__(host, port, app, handler=QuietRequestHandler, fd=listener.fileno())
        finally:
            listener.close()  # werkzeug keeps its own duplicate of the socket
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox-worker")

    def process_request(self, request, client_address) -> None:
        self._pool.submit(self._serve_one, request, client_address)

    def _serve_one(self, request, client_address) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up early is not the server's problem; log, don't print.
        log.debug("error while serving %s", client_address, exc_info=True)

    def server_close(self) -> None:
        """Stop listening, then let the requests in progress finish."""
        super().server_close()
        pool = getattr(self, "_pool", None)  # werkzeug calls this once during __init__ too
        if pool is not None:
            pool.shutdown(wait=True)

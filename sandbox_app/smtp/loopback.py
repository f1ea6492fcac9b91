"""A loopback SMTP server's socket: aiosmtpd's threaded controller on 127.0.0.1, bound before it serves."""

from __future__ import annotations

import socket

from aiosmtpd.controller import Controller

from ..addresses import LOOPBACK
from ..processes.ports import free_port

__all__ = ["LOOPBACK", "LoopbackController", "free_port"]  # the first two for the mail server's users


class LoopbackController(Controller):
    """aiosmtpd's threaded controller for any handler, on a loopback socket bound at once (port 0: a free one).

    Probing a free port and binding it later leaves a gap in which another process could take it; this
    binds first, and serves the very socket it bound. A context manager: `with LoopbackController(h) as c:`.
    """

    def __init__(self, handler, port: int = 0, listener: socket.socket | None = None, **kwargs) -> None:
        self.listener = listener or socket.create_server((LOOPBACK, port))
        kwargs.setdefault("server_hostname", "sandbox.invalid")  # skips a reverse DNS lookup per session
        super().__init__(handler, hostname=LOOPBACK, port=self.listener.getsockname()[1], **kwargs)

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self.listener, ssl=self.ssl_context)

    def stop(self, *args, **kwargs) -> None:
        """Stop serving and close the socket (also when it never started)."""
        try:
            if self._thread is not None:
                super().stop(*args, **kwargs)
        finally:
            self.listener.close()

    def __enter__(self) -> LoopbackController:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

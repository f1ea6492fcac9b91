"""The launcher's private channel: an app in a process of its own calls its launcher by name, not through /api.

The launcher (the Sandbox) owns a `LauncherChannel`: `serve(name, handler)`, `start()`, `stop()`. Its port
and authkey travel in the settings object (`launcher_port`, `launcher_authkey`); a child calls with
`LauncherClient(port, authkey).call(name, *args)`. Only a caller that sends the authkey first is read
any further, so only processes given the settings can call.

Names served: "mail.*" (the debug mail server's remote view, `smtp.remote`); "queue.prepare" and
"queue.state" are kept for the queue backends (prepare a queue's workers and answer its Redis URL; the
queues' state for /api/queue).

Plain sockets, not multiprocessing.connection: its Connection reads the socket's descriptor itself, which
fails under gevent's worker (the socket is non-blocking there); a socket's own calls cooperate with gevent.
"""

from __future__ import annotations

import hmac
import pickle
import secrets
import socket
import socketserver
import struct
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from ..addresses import LOOPBACK

CALL_TIMEOUT = 60.0  # a call may start Redis and a queue's workers: seconds, not milliseconds
KEY_BYTES = 32
HEADER = struct.Struct("!I")  # each message: its length, then its bytes


class ChannelError(RuntimeError):
    """The launcher has no handler of that name, or its answer could not be sent back."""


def _send(stream: BinaryIO, payload: bytes) -> None:
    stream.write(HEADER.pack(len(payload)) + payload)
    stream.flush()


def _receive(stream: BinaryIO, limit: int | None = None) -> bytes:
    """One message; EOFError when the other side closed (or sent more than `limit` bytes, before the key)."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        raise EOFError("the other side closed the channel")
    (size,) = HEADER.unpack(header)
    if limit is not None and size > limit:
        raise EOFError(f"a message of {size} bytes where at most {limit} were expected")
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError("the other side closed the channel mid-message")
    return payload


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = False
    block_on_close = True  # server_close() waits for the calls under way: no thread outlives stop()
    allow_reuse_address = False


class LauncherChannel:
    """The launcher's side: answers each call, in a thread of its own, with the handler served under its name.

    `start()` and `stop()`, or a `with` block, as aiosmtpd's Controller.
    """

    def __init__(self) -> None:
        self.authkey = secrets.token_hex(KEY_BYTES)
        self.handlers: dict[str, Callable[..., Any]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def serve(self, name: str, handler: Callable[..., Any]) -> None:
        """Answer calls of `name` with `handler(*args)`: its return value, or the exception it raised."""
        self.handlers[name] = handler

    @property
    def port(self) -> int | None:
        """The loopback port it listens on, once started."""
        return self._server.server_address[1] if self._server is not None else None

    def start(self) -> LauncherChannel:
        """Listen on a free loopback port and answer calls until `stop()`."""
        channel = self

        class Answer(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                channel._answer(self.rfile, self.wfile)

        self._server = _Server((LOOPBACK, 0), Answer)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="launcher-channel", daemon=True
        )  # a tenth of a second: how long stop() waits for it to notice
        self._thread.start()
        return self

    def _answer(self, incoming: BinaryIO, outgoing: BinaryIO) -> None:
        try:
            key = _receive(incoming, limit=2 * KEY_BYTES)
            if not hmac.compare_digest(key, self.authkey.encode()):
                return  # not one of ours: nothing it sent is unpickled
            name, args = pickle.loads(_receive(incoming))
            handler = self.handlers.get(name)
            try:
                if handler is None:
                    raise ChannelError(f"the launcher serves no {name!r}; it serves {sorted(self.handlers)}")
                answer = ("ok", handler(*args))
            except Exception as error:  # raised again in the caller, as the handler raised it
                answer = ("error", error)
            try:
                payload = pickle.dumps(answer)
            except Exception as error:  # an answer or exception that does not pickle
                payload = pickle.dumps(("error", ChannelError(f"{name}: cannot send the answer back: {error}")))
            _send(outgoing, payload)
        except (OSError, EOFError):
            pass  # the caller gave up (its timeout): nobody to answer

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening; the calls under way finish first."""
        if self._server is None:
            return
        self._server.shutdown()
        self._thread.join(timeout)
        self._server.server_close()
        self._server = None

    def __enter__(self) -> LauncherChannel:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class LauncherClient:
    """A child's side: `call(name, *args)` runs the launcher's handler and returns what it returned."""

    def __init__(self, port: int, authkey: str, timeout: float = CALL_TIMEOUT) -> None:
        self.port, self.authkey, self.timeout = port, authkey, timeout

    def call(self, name: str, *args: Any) -> Any:
        """The handler's answer, or the exception it raised; OSError when the launcher cannot be reached or is gone."""
        connection = socket.create_connection((LOOPBACK, self.port), timeout=self.timeout)
        with connection, connection.makefile("rwb") as stream:
            _send(stream, self.authkey.encode())
            _send(stream, pickle.dumps((name, args)))
            try:
                status, answer = pickle.loads(_receive(stream))
            except EOFError:
                raise ConnectionAbortedError(f"the launcher closed the channel without answering {name!r}") from None
        if status == "error":
            raise answer
        return answer

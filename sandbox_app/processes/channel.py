"""The launcher's private channel: an app in a process of its own calls its launcher by name, not through /api.

The launcher (the Sandbox) owns a `LauncherChannel`: `serve(name, handler)`, `start()`, `stop()`. Its port
and authkey travel in the settings object (`launcher_port`, `launcher_authkey`); a child calls with
`LauncherClient(port, authkey).call(name, *args)`. multiprocessing's Listener on 127.0.0.1 checks the
authkey (an HMAC challenge) before anything is read, so only processes given the settings can call.

Names served: "mail.*" (the debug mail server's remote view, `smtp.remote`); "queue.prepare" and
"queue.state" are kept for the queue backends (prepare a queue's workers and answer its Redis URL; the
queues' state for /api/queue).
"""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, Listener
from typing import Any

from ..addresses import LOOPBACK

CALL_TIMEOUT = 60.0  # a call may start Redis and a queue's workers: seconds, not milliseconds


class ChannelError(RuntimeError):
    """The launcher has no handler of that name, or its answer could not be sent back."""


class LauncherChannel:
    """The launcher's side: answers each call in a thread of its own with the handler served under its name.

    `start()` and `stop()`, or a `with` block, as aiosmtpd's Controller.
    """

    def __init__(self) -> None:
        self.authkey = secrets.token_hex(32)
        self.handlers: dict[str, Callable[..., Any]] = {}
        self._listener: Listener | None = None
        self._thread: threading.Thread | None = None
        self._calls: set[threading.Thread] = set()
        self._stopping = threading.Event()

    def serve(self, name: str, handler: Callable[..., Any]) -> None:
        """Answer calls of `name` with `handler(*args)`: its return value, or the exception it raised."""
        self.handlers[name] = handler

    @property
    def port(self) -> int | None:
        """The loopback port it listens on, once started."""
        return self._listener.address[1] if self._listener is not None else None

    def start(self) -> LauncherChannel:
        """Listen on a free loopback port and answer calls until `stop()`."""
        self._stopping.clear()
        self._listener = Listener((LOOPBACK, 0), authkey=self.authkey.encode())
        self._thread = threading.Thread(target=self._accept, name="launcher-channel", daemon=True)
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection = self._listener.accept()
            except (OSError, EOFError, AuthenticationError):  # a caller without the key, or the wake-up of stop()
                continue
            call = threading.Thread(target=self._answer, args=(connection,), name="launcher-call", daemon=True)
            self._calls.add(call)
            call.start()

    def _answer(self, connection: Connection) -> None:
        try:
            with connection:
                name, args = connection.recv()
                handler = self.handlers.get(name)
                try:
                    if handler is None:
                        raise ChannelError(f"the launcher serves no {name!r}; it serves {sorted(self.handlers)}")
                    answer = ("ok", handler(*args))
                except Exception as error:  # raised again in the caller, as the handler raised it
                    answer = ("error", error)
                try:
                    connection.send(answer)
                except Exception as error:  # an answer or exception that does not pickle
                    connection.send(("error", ChannelError(f"{name}: cannot send the answer back: {error}")))
        except (OSError, EOFError):
            pass  # the caller gave up (its timeout): nobody to answer
        finally:
            self._calls.discard(threading.current_thread())

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening; the calls under way finish (up to `timeout` s each)."""
        if self._listener is None:
            return
        self._stopping.set()
        # accept() does not return when its socket is closed from another thread: a connection wakes it.
        with suppress(OSError), socket.create_connection((LOOPBACK, self.port), timeout=1):
            pass
        self._thread.join(timeout)
        self._listener.close()
        self._listener = None
        for call in list(self._calls):
            call.join(timeout)

    def __enter__(self) -> LauncherChannel:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class LauncherClient:
    """A child's side: `call(name, *args)` runs the launcher's handler and returns what it returned."""

    def __init__(self, port: int, authkey: str, timeout: float = CALL_TIMEOUT) -> None:
        self.port, self.authkey, self.timeout = port, authkey, timeout

    def call(self, name: str, *args: Any) -> Any:
        """The handler's answer, or the exception it raised; OSError when the launcher cannot be reached."""
        connection = Client((LOOPBACK, self.port), authkey=self.authkey.encode())
        with connection:
            connection.send((name, args))
            if not connection.poll(self.timeout):
                raise TimeoutError(f"the launcher did not answer {name!r} in {self.timeout:g} s")
            status, answer = connection.recv()
        if status == "error":
            raise answer
        return answer

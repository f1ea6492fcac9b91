"""Free loopback ports: find one, and start a server on one again when another process took it first."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TypeVar

from ..addresses import LOOPBACK
from .child import ChildError, ChildProcess

PORT_ATTEMPTS = 5
ADDRESS_IN_USE = "address already in use"  # what servers log when the port was taken (compared in lower case)

Server = TypeVar("Server", bound=ChildProcess)


def free_port(host: str = LOOPBACK, port: int = 0) -> int:
    """`port` if it is free right now, else OSError; any free port when it is 0.

    aiosmtpd cannot bind port 0 itself, and on a taken port it only fails after its
    ready timeout: probing first answers at once.
    """
    with socket.create_server((host, port)) as probe:
        return probe.getsockname()[1]


def start_on_free_port(
    make: Callable[[], Server], taken: str = ADDRESS_IN_USE, attempts: int = PORT_ATTEMPTS
) -> Server:
    """make() a server (a ChildProcess that picks a free port) and start it; when its log says `taken`, again.

    `free_port()` only finds a port free now: another process may bind it before the server does.
    """
    for _attempt in range(attempts):
        server = make()
        try:
            return server.start()
        except ChildError:
            if taken.lower() not in server.read_log().lower():
                raise
    raise ChildError(
        f"{server.what} could not get a free port in {attempts} attempts; its last log:\n{server.read_log()}"
    )

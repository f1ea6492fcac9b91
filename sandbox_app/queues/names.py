"""A queue's name: made up per sandbox (two sandboxes never share a queue by accident), or given to share one."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket

QUEUE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def this_host() -> str:
    """A short tag for this machine: a home folder shared by several machines keeps their queues apart."""
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]


def new_queue_name() -> str:
    """A queue name no other sandbox uses: two sandboxes never share a queue by accident."""
    return f"mail-{this_host()}-{os.getpid()}-{secrets.token_hex(4)}"


def check_queue_name(name: str) -> str:
    """The name if it can name a file and Redis keys, else ValueError."""
    if not isinstance(name, str) or not QUEUE_NAME.fullmatch(name):
        raise ValueError(f"queue name must be 1-64 letters, digits, '_', '.' or '-', got {name!r}")
    return name


def creator_pid(name: str) -> int | None:
    """The process on this machine that made up this queue name (see new_queue_name), else None."""
    match = re.match(r"mail-([0-9a-f]{6})-(\d+)-[0-9a-f]{8}\b", name)
    return int(match.group(2)) if match and match.group(1) == this_host() else None


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (on this machine, for this user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

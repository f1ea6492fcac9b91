"""Your own app in production (the lesson): a hung mail server, a send watched like a worker, a slow resolver, `flask run`."""

from __future__ import annotations

import os
import re
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from flask_mail import Mail, Message

from ..processes.child import ChildProcess
from ..processes.ports import start_on_free_port
from ..smtp.loopback import LOOPBACK, free_port
from .threads import error_text


@contextmanager
def hung_mail_server() -> Iterator[int]:
    """A loopback port that accepts connections and never says a word, as a hung mail server; yields the port.

    Leaving the block hangs up on every client, so a send still waiting for the greeting ends with an error.
    """
    listener = socket.create_server((LOOPBACK, 0))
    listener.settimeout(0.05)  # accept() wakes up often enough to notice the block is over
    accepted: list[socket.socket] = []
    closing = threading.Event()

    def accept() -> None:
        while not closing.is_set():
            with suppress(OSError):  # nobody came (a timeout), or the listener closed
                accepted.append(listener.accept()[0])  # kept open, never answered

    acceptor = threading.Thread(target=accept, name="hung-mail-server", daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1]
    finally:
        closing.set()
        listener.close()
        for connection in accepted:
            connection.close()
        acceptor.join(5)


@dataclass
class SendAttempt:
    """One `mail.send` run in a thread, as a worker runs it, and watched for `wait` seconds."""

    wait: float
    finished: bool = False
    seconds: float = 0.0  # how long the send took, or `wait` if it had not finished
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def __repr__(self) -> str:
        if not self.finished:
            return f"still waiting after {self.wait:g} s"
        outcome = "sent" if self.error is None else error_text(self.error).splitlines()[0]
        return f"finished after {self.seconds:.2f} s: {outcome}"


def send_and_wait(app: Flask, mail: Mail, wait: float) -> SendAttempt:
    """Send one mail with `mail` in a thread of its own, inside `app`'s context; watch it for `wait` s.

    A send that has not finished by then goes on in its thread: it ends when the mail server answers or
    hangs up, and what it raises then is kept, never printed into a later cell.
    """
    attempt = SendAttempt(wait)

    def send() -> None:
        started = time.perf_counter()
        try:
            with app.app_context():
                mail.send(Message("Welcome", recipients=["ada@example.com"], body="Thanks for signing up."))
        except Exception as error:  # kept for the cell to print
            attempt.error = error
        attempt.seconds = time.perf_counter() - started
        attempt.done.set()

    threading.Thread(target=send, name="own-app-send", daemon=True).start()
    attempt.finished = attempt.done.wait(wait)
    if not attempt.finished:
        attempt.seconds = wait
    return attempt


@contextmanager
def slow_resolver(seconds: float) -> Iterator[None]:
    """For the block, every socket.getfqdn() in this process (the app's, when it runs in this one) waits `seconds`.

    A simulation, and said so: the resolver itself is not touched. `email.utils.make_msgid` (called by every
    Flask-Mail Message()) and smtplib's EHLO name both call socket.getfqdn(), so both pay, as they would.
    """
    real = socket.getfqdn

    def slow(name: str = "") -> str:
        time.sleep(seconds)
        return real(name)

    socket.getfqdn = slow
    try:
        yield
    finally:
        socket.getfqdn = real


STARTED = re.compile(r"^start-up code ran in process (\d+)", re.MULTILINE)


@dataclass
class FlaskRun:
    """What `flask run` did with an app's start-up code: the processes it ran in, in order."""

    args: tuple[str, ...]
    pids: list[int]

    @property
    def starts(self) -> int:
        """How many times the start-up code ran."""
        return len(self.pids)

    @property
    def processes(self) -> int:
        """In how many different processes."""
        return len(set(self.pids))

    def __repr__(self) -> str:
        command = " ".join(("flask run", *self.args))
        times = "once" if self.starts == 1 else f"{self.starts} times"
        where = "one process" if self.processes == 1 else f"{self.processes} processes"
        return f"{command}: the start-up code ran {times}, in {where}"


def flask_run(source: str, *args: str, timeout: float = 20.0) -> FlaskRun:
    """Run an app module (its `source`) with `flask run ARGS` until it serves, then stop it and all its children.

    The start-up code says where it ran by printing "start-up code ran in process <pid>". The module
    lives in a temporary folder, outside the course, and is removed afterwards.
    """
    with tempfile.TemporaryDirectory(prefix="flask-run-") as folder:
        Path(folder, "startup.py").write_text(source, encoding="utf-8")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("WERKZEUG_RUN_MAIN", None)  # as in a fresh terminal

        def new_flask_run() -> ChildProcess:
            # flask run binds the port itself: another process may take it first, and then flask says so.
            port = free_port()
            command = [sys.executable, "-m", "flask", "--app", "startup", "run", "--port", port, *args]
            # The reloader's server is a child of its own: stopping the process stops it too.
            return ChildProcess(command, Path(folder, f"output-{port}.txt"), what="flask run", env=env, cwd=folder,
                                ready=lambda: _answers(port), startup_timeout=timeout)  # fmt: skip

        with start_on_free_port(new_flask_run) as flask:
            return FlaskRun(args, [int(pid) for pid in STARTED.findall(flask.read_log())])


def _answers(port: int) -> bool:
    """Whether an HTTP server answers on the port (any status counts)."""
    try:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # a 404 is an answer: the app has no routes
    except OSError:
        return False

"""The app under a production server in its own process(es): waitress, gunicorn sync workers, gunicorn gevent."""

from __future__ import annotations

import os
import socket
import sys
import urllib.request
from pathlib import Path
from typing import Protocol

from ..unavailable import Unavailable
from .child import ChildProcess
from .env import Settings, settings_env

IN_PROCESS = "inprocess"
SERVERS = (IN_PROCESS, "waitress", "gunicorn-sync", "gunicorn-gthread", "gunicorn-gevent")
# What --workers counts, and its default, per server: threads of one process, or processes.
DEFAULT_WORKERS = {IN_PROCESS: 4, "waitress": 4, "gunicorn-sync": 4, "gunicorn-gthread": 1, "gunicorn-gevent": 1}
WORKERS_ARE = {
    IN_PROCESS: "threads",
    "waitress": "threads",
    "gunicorn-sync": "processes",
    "gunicorn-gthread": "processes",
    "gunicorn-gevent": "processes",
}
GEVENT_CONNECTIONS = 1000  # greenlets per gevent worker: how many requests one process holds at once
GTHREAD_THREADS = 4  # threads per gthread worker process, as waitress has 4
STARTUP_TIMEOUT = 30.0


class ServerUnavailable(Unavailable):
    """This server cannot run here (gunicorn needs a Unix system)."""


def check_server(server: str, system: str = os.name) -> str:
    """The server's name if it can run on `system` (os.name: this one); ValueError or ServerUnavailable saying why not."""
    if server not in SERVERS:
        raise ValueError(f"unknown server {server!r}; choose one of: {', '.join(SERVERS)}")
    if server.startswith("gunicorn") and system == "nt":
        raise ServerUnavailable(
            f"{server} needs gunicorn, which runs on Linux and macOS, not Windows: run the course in WSL"
        )
    return server


def serving(server: str, workers: int) -> str:
    """What serves the app's requests, in words: "4 threads", "1 process"."""
    kind = WORKERS_ARE[server]
    return f"{workers} {kind if workers != 1 else kind.removesuffix('es' if kind == 'processes' else 's')}"


def server_command(server: str, fd: int, workers: int, port: int) -> list[str]:
    """The command line that serves the app of sandbox_app.programs.wsgi on the inherited listening socket `fd`."""
    if server == "waitress":
        # Windows cannot pass a socket to a child: waitress binds the port itself there.
        where = ["--port", str(port)] if os.name == "nt" else ["--fd", str(fd)]
        return [sys.executable, "-m", "sandbox_app.programs.wsgi", *where, "--threads", str(workers)]
    worker_class = server.removeprefix("gunicorn-")
    return [
        sys.executable, "-m", "gunicorn", "--config", "python:sandbox_app.programs.gunicorn_conf",
        "--bind", f"fd://{fd}", "--workers", str(workers), "--worker-class", worker_class,
        "--worker-connections", str(GEVENT_CONNECTIONS), "--threads", str(GTHREAD_THREADS if worker_class == "gthread" else 1),
        # A worker that waits longer than this for the mail server is killed and restarted.
        "--timeout", "60", "--graceful-timeout", "10", "--log-level", "warning",
        "sandbox_app.programs.wsgi:build()",  # an app factory: each worker builds the app, nothing at import
    ]  # fmt: skip


def shown_command(command: list[str]) -> str:
    """The command line the sandbox runs, as a shell shows it (`gunicorn ...`, not the interpreter's path)."""
    words = command[3:] if command[1:3] == ["-m", "gunicorn"] else command[1:]
    program = "gunicorn" if command[1:3] == ["-m", "gunicorn"] else "python"
    return " ".join([program, *words])


def learner_command(server: str, workers: int, app: str = "myapp:app") -> str:
    """What a learner types for the same server and workers (the sandbox adds a socket it passes, a hook, timeouts)."""
    if server == "waitress":
        return f"waitress-serve --threads {workers} --listen 127.0.0.1:8000 {app}"
    worker_class = server.removeprefix("gunicorn-")
    threads = f" --threads {GTHREAD_THREADS}" if worker_class == "gthread" else ""
    return f"gunicorn -k {worker_class} -w {workers}{threads} -b 127.0.0.1:8000 {app}"


class ServerSettings(Settings, Protocol):
    """What a server process is started from (a SandboxConfig): where, under which server, with how many workers."""

    host: str
    port: int
    server: str
    workers: int


class ServerProcess(ChildProcess):
    """The app under `settings.server` in a child process (gunicorn: a master and its workers) on a loopback port.

    The child builds the app from `settings`, which it reads from its environment.
    """

    def __init__(self, settings: ServerSettings, log_path: Path, headers: dict) -> None:
        server, workers = check_server(settings.server), settings.workers
        self.server, self.workers, self.headers = server, workers, headers
        # Bound here, inherited by the child: no gap in which another sandbox could take the port.
        self.listener = socket.create_server((settings.host, settings.port), backlog=1024)
        self.listener.set_inheritable(True)
        self.host, self.port = settings.host, self.listener.getsockname()[1]
        env = {**os.environ, **settings_env(settings), "PYTHONUNBUFFERED": "1"}
        command = server_command(server, self.listener.fileno(), workers, self.port)
        fds = () if os.name == "nt" else (self.listener.fileno(),)
        super().__init__(
            command, log_path, what=f"the app under {server}", env=env, startup_timeout=STARTUP_TIMEOUT, pass_fds=fds
        )

    @property
    def url(self) -> str:
        """The app's base URL."""
        return f"http://{self.host}:{self.port}/"

    def is_ready(self) -> bool:
        """Every worker is up (gunicorn starts them after the master) and the app answers."""
        workers = len(self.processes()) - 1
        return (self.server == "waitress" or workers >= self.workers) and self._answers()

    def _answers(self) -> bool:
        request = urllib.request.Request(self.url + "ping", headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def start(self, timeout: float | None = None) -> ServerProcess:
        """Start the server and wait until /ping answers; ChildError with its log if it does not."""
        if os.name == "nt":
            self.listener.close()  # the child binds the port itself
        try:
            super().start(timeout)
        finally:
            self.listener.close()  # the child holds its own copy
        return self

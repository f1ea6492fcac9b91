"""The app under a production server in its own process(es): waitress, gunicorn sync workers, gunicorn gevent."""

from __future__ import annotations

import os
import socket
import sys
import urllib.request
from pathlib import Path

import psutil

from .child_env import config_env
from .children import ChildProcess
from .web.access import KEY_HEADER

IN_PROCESS = "inprocess"
SERVERS = (IN_PROCESS, "waitress", "gunicorn-sync", "gunicorn-gevent")
# What --workers counts, and its default, per server: threads of one process, or processes.
DEFAULT_WORKERS = {IN_PROCESS: 4, "waitress": 4, "gunicorn-sync": 4, "gunicorn-gevent": 1}
WORKERS_ARE = {
    IN_PROCESS: "threads",
    "waitress": "threads",
    "gunicorn-sync": "processes",
    "gunicorn-gevent": "processes",
}
GEVENT_CONNECTIONS = 1000  # greenlets per gevent worker: how many requests one process holds at once


class ServerUnavailable(RuntimeError):
    """This server cannot run here (gunicorn needs a Unix system)."""


def check_server(server: str) -> str:
    """The server's name if it can run on this system; ValueError or ServerUnavailable saying why not."""
    if server not in SERVERS:
        raise ValueError(f"unknown server {server!r}; choose one of: {', '.join(SERVERS)}")
    if server.startswith("gunicorn") and os.name == "nt":
        raise ServerUnavailable(f"{server} needs gunicorn, which runs on Linux and macOS, not Windows")
    return server


def server_command(server: str, fd: int, workers: int, port: int) -> list[str]:
    """The command line that serves sandbox_app.wsgi:app on the inherited listening socket `fd`."""
    if server == "waitress":
        # Windows cannot pass a socket to a child: waitress binds the port itself there.
        where = ["--port", str(port)] if os.name == "nt" else ["--fd", str(fd)]
        return [sys.executable, "-m", "sandbox_app.wsgi", *where, "--threads", str(workers)]
    worker_class = {"gunicorn-sync": "sync", "gunicorn-gevent": "gevent"}[server]
    return [
        sys.executable, "-m", "gunicorn", "--config", "python:sandbox_app.gunicorn_conf",
        "--bind", f"fd://{fd}", "--workers", str(workers),
        "--worker-class", worker_class, "--worker-connections", str(GEVENT_CONNECTIONS),
        # A worker that waits longer than this for the mail server is killed and restarted.
        "--timeout", "60", "--graceful-timeout", "10", "--log-level", "warning",
        "sandbox_app.wsgi:app",
    ]  # fmt: skip


class ServerProcess(ChildProcess):
    """The app under `server` in a child process (gunicorn: a master and its workers) on a loopback port."""

    def __init__(self, server: str, host: str, port: int, workers: int, config: dict, log_path: Path) -> None:
        self.server, self.workers = check_server(server), workers
        # Bound here, inherited by the child: no gap in which another sandbox could take the port.
        self.listener = socket.create_server((host, port), backlog=1024)
        self.listener.set_inheritable(True)
        self.host, self.port = host, self.listener.getsockname()[1]
        env = {**os.environ, **config_env(config), "PYTHONUNBUFFERED": "1"}
        super().__init__(server_command(server, self.listener.fileno(), workers, self.port), log_path, env=env)
        self.key = config.get("SANDBOX_KEY")

    @property
    def url(self) -> str:
        """The app's base URL."""
        return f"http://{self.host}:{self.port}/"

    def _ready(self) -> bool:
        """Every worker is up (gunicorn starts them after the master) and the app answers."""
        workers = len(self.processes()) - 1
        return (self.server == "waitress" or workers >= self.workers) and self._answers()

    def _answers(self) -> bool:
        request = urllib.request.Request(self.url + "ping", headers={KEY_HEADER: self.key} if self.key else {})
        try:
            with urllib.request.urlopen(request, timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Start the server and wait until /ping answers; ChildError with its log if it does not."""
        if os.name == "nt":
            self.listener.close()  # the child binds the port itself
        try:
            fds = () if os.name == "nt" else (self.listener.fileno(),)
            super().start(self._ready, timeout, f"the app under {self.server}", pass_fds=fds)
        finally:
            self.listener.close()  # the child holds its own copy
        return self

    def processes(self) -> list[psutil.Process]:
        """The server's processes: the master and its workers (gunicorn), or the one waitress process."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except (psutil.NoSuchProcess, TypeError):
            return []

    def memory_mb(self) -> float:
        """Resident memory of all the server's processes, in MB (unique pages, where the system tells them)."""
        total = 0
        for process in self.processes():
            try:
                info = process.memory_full_info()
                total += getattr(info, "uss", info.rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return total / 1e6

    def stop(self, timeout: float = 15.0) -> int | None:
        """Graceful stop (requests in progress finish), then SIGKILL for anything left, workers included."""
        family = self.processes()
        code = super().stop(timeout)
        _gone, alive = psutil.wait_procs(family, timeout=5)
        for leftover in alive:
            leftover.kill()
        return code

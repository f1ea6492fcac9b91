"""`python -m sandbox_app`: prints both addresses and the key, listens on loopback only, stops cleanly."""

import re
import signal
import socket
import subprocess
import sys

import pytest
from helpers import EMAIL, get_json, http_get, http_post, listening_addresses

from sandbox_app.cli import main
from sandbox_app.processes.child import ChildProcess

# The banner's first lines: the app's link, with the key that lets a browser in, then the mail server.
BANNER = re.compile(
    r"app:\s+(?P<url>http://[^/\s]+:\d+/)(?:\?key=(?P<key>[\w-]+))?\n"
    r"\s+mail server:\s+smtp://(?P<smtp>127\.0\.0\.1:\d+)"
)


class Served(ChildProcess):
    """The CLI in a child process: ready once it printed its banner, which gives its URL, key and mail server."""

    def __init__(self, tmp_path, *args: str, env: dict | None = None) -> None:
        command = [sys.executable, "-u", "-m", "sandbox_app", *args]
        super().__init__(command, tmp_path / "cli.log", what="the CLI", env=env, stop_signal=signal.SIGINT,
                         ready=lambda: BANNER.search(self.read_log()))  # fmt: skip

    @property
    def banner(self) -> re.Match:
        """What the banner said."""
        return BANNER.search(self.read_log())

    @property
    def url(self) -> str:
        """The app's base URL, as printed."""
        return self.banner.group("url")

    @property
    def key(self) -> str | None:
        """The key, as printed (None when the banner gives none)."""
        return self.banner.group("key")


@pytest.fixture
def cli(tmp_path):
    """start(*args) runs the CLI until it printed its banner (a deadline, not a blocking read); all stopped after."""
    started: list[Served] = []

    def start(*args: str, env: dict | None = None) -> Served:
        served = Served(tmp_path, *args, env=env)
        started.append(served)
        return served.start(timeout=30)

    yield start
    for served in started:
        served.stop(timeout=20)


@pytest.mark.slow  # the command line's sandbox
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serves_with_a_key_then_stops_cleanly(cli, stop_signal):
    served = cli("--smtp-delay", "0.05")
    assert served.key, "by default the CLI prints a link with a key: it never starts open unless asked"
    assert http_get(served.url, "ping").status == 403  # without the key
    assert http_get(served, "ping").status == 200
    assert http_post(served, "send/blocking", EMAIL).status == 200
    assert get_json(served, "api/messages")["count"] == 1
    assert get_json(served, "api/smtp")["address"] == served.banner.group("smtp")
    served.send_signal(stop_signal)
    assert served.wait(20) == 0
    assert "Stopped." in served.read_log()
    assert "Traceback" not in served.read_log()


@pytest.mark.slow  # the command line's sandbox
def test_open_prints_no_key_and_lets_anyone_in(cli):
    served = cli("--open")
    assert served.key is None
    assert "open:" in served.read_log()
    assert http_get(served.url, "ping").status == 200


@pytest.mark.slow  # the command line's sandbox
def test_listens_on_loopback_only_by_default(cli):
    served = cli("--queue-workers", "1")  # the consumer process too
    addresses = listening_addresses(served.pid)
    assert {host for host, _port in addresses} == {"127.0.0.1"}, addresses
    app_port = int(served.url.rsplit(":", 1)[1].strip("/"))
    smtp_port = int(served.banner.group("smtp").rsplit(":", 1)[1])
    assert {app_port, smtp_port} <= {port for _host, port in addresses}


@pytest.mark.slow  # the command line's sandbox
def test_another_host_is_listened_on_when_asked(cli):
    served = cli("--host", "0.0.0.0")  # the check above can fail: here the app is on every address
    assert "0.0.0.0" in {host for host, _port in listening_addresses(served.pid)}
    assert "beyond this machine's loopback" in served.read_log()


@pytest.mark.slow  # the command line in a process
@pytest.mark.parametrize(("option", "what"), [("--port", "app"), ("--smtp-port", "mail server")])
def test_taken_port_is_a_one_line_error(option, what):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "sandbox_app", option, str(port)], capture_output=True, text=True, timeout=30
        )
    assert done.returncode == 2
    assert done.stderr == f"error: the {what} port {port} is already in use\n"
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (["--smtp-delay", "-1"], "argument --smtp-delay: must be between 0 and 3600 seconds, got -1"),
        (["--port", "http"], "argument --port: not a port number (0-65535): 'http'"),
        (["--workers", "0"], "argument --workers: must be a whole number of at least 1, got '0'"),
        (["--key", "short"], "argument --key: a key is 8 to 128 letters, digits, '-' or '_'"),
    ],
)
def test_bad_arguments_are_explained(args, refusal, capsys):
    with pytest.raises(SystemExit) as exited:
        main(args)  # the command's own parser, in this process: it refuses before starting anything
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1].endswith(f"error: {refusal}")  # the option refused, and why

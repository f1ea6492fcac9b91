"""`python -m sandbox_app`: prints both addresses, serves, stops cleanly on SIGINT/SIGTERM."""

import re
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from helpers import EMAIL, eventually, get_json, http_get, http_post

from sandbox_app.__main__ import main

BANNER = re.compile(
    r"app:\s+(?P<url>http://127\.0\.0\.1:\d+/)(?:\?key=(?P<key>[\w-]+))?\n"
    r"\s+mail server:\s+smtp://(?P<smtp>127\.0\.0\.1:\d+)"
)


@dataclass
class Served:
    """What the command printed: the app's URL, the key its requests carry, the mail server's address."""

    url: str
    smtp: str
    key: str | None = None


@contextmanager
def launched(tmp_path, *args):
    """Run the CLI (its output in files, read as it comes); yield the process and what it served; never leave it running."""
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        process = subprocess.Popen([sys.executable, "-u", "-m", "sandbox_app", *args], stdout=out, stderr=err)
    try:
        found = eventually(lambda: BANNER.search(out_path.read_text()) or process.poll() is not None, timeout=30)
        assert found is not True, f"exited with {process.returncode} before serving: {err_path.read_text()}"
        yield process, Served(found.group("url"), found.group("smtp"), found.group("key"))
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serves_then_stops_cleanly(tmp_path, stop_signal):
    with launched(tmp_path, "--smtp-delay", "0.05") as (process, served):
        assert http_get(served, "ping").status == 200
        assert http_post(served, "send/blocking", EMAIL).status == 200
        assert get_json(served, "api/messages")["count"] == 1
        assert get_json(served, "api/smtp")["address"] == served.smtp
        process.send_signal(stop_signal)
        assert process.wait(20) == 0
    out, err = (tmp_path / "stdout").read_text(), (tmp_path / "stderr").read_text()
    assert "Stopped." in out
    assert "Traceback" not in err


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


@pytest.mark.parametrize("args", [["--smtp-delay", "-1"], ["--port", "http"], ["--workers", "0"]])
def test_bad_arguments_are_explained(args, capsys):
    with pytest.raises(SystemExit) as exited:
        main(args)  # the command's own parser, in this process: it refuses before starting anything
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "error:" in err

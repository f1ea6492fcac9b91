"""`python -m sandbox_app`: prints both addresses, serves, stops cleanly on SIGINT/SIGTERM."""

import json
import re
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from conftest import EMAIL


def launch(*args):
    """Start the CLI; return the process and the app URL and SMTP address it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox_app", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines = [process.stdout.readline() for _ in range(3)]
    app_url = re.search(r"app:\s+(http://127\.0\.0\.1:\d+/)", lines[1]).group(1)
    smtp = re.search(r"mail server:\s+smtp://(127\.0\.0\.1:\d+)", lines[2]).group(1)
    return process, app_url, smtp


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serves_then_stops_cleanly(stop_signal):
    process, url, smtp = launch("--smtp-delay", "0.05")
    try:
        assert urllib.request.urlopen(url + "ping").status == 200
        request = urllib.request.Request(
            url + "send/blocking", data=json.dumps(EMAIL).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )
        assert urllib.request.urlopen(request).status == 200
        inbox = json.load(urllib.request.urlopen(url + "api/messages"))
        assert inbox["count"] == 1
        assert json.load(urllib.request.urlopen(url + "api/smtp"))["address"] == smtp
    finally:
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0
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
def test_bad_arguments_are_explained(args):
    done = subprocess.run([sys.executable, "-m", "sandbox_app", *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "error:" in done.stderr

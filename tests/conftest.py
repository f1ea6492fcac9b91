"""Shared fixtures: a real debug mail server, the app sending to it, a running sandbox (helpers: helpers.py)."""

import pytest
from helpers import EMAIL, eventually  # noqa: F401 (test files that still import them from here)

from sandbox_app import create_app, runner
from sandbox_app.mailer.background import get_background
from sandbox_app.smtp.server import DebugMailServer

pytest_plugins = ["browser_fixtures", "hub_fixtures", "queue_fixtures"]


@pytest.fixture
def mail_server():
    """A debug mail server on a free loopback port, stopped after the test."""
    with DebugMailServer() as server:
        yield server


@pytest.fixture
def app(mail_server):
    """The app, configured for tests, sending real SMTP to the test's mail server."""
    app = create_app({"TESTING": True, "MAIL_TIMEOUT": 5.0}, mail_server=mail_server)
    yield app
    get_background(app).finish(timeout=10)


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    """A fresh per-test state folder (queue databases, logs), so tests never share a queue file."""
    folder = tmp_path / "state"
    monkeypatch.setenv("SANDBOX_STATE_DIR", str(folder))
    return folder


@pytest.fixture
def start_sandbox(state_dir):
    """`start_sandbox(**options)` is `sandbox_app.start`; whatever sandbox runs is stopped after the test."""
    runner.stop()
    yield runner.start
    runner.stop()  # the one the test started, or the next one it started after stopping that


@pytest.fixture
def sandbox(start_sandbox):
    """A running sandbox (app and mail server on real loopback sockets, its own state folder), stopped after."""
    return start_sandbox()

"""Shared fixtures: a real debug mail server, the app sending to it, a running sandbox."""

import threading
import time

import pytest

from sandbox_app import create_app, runner
from sandbox_app.smtp.server import DebugMailServer
from sandbox_app.mailer.background import get_background

pytest_plugins = ["browser_fixtures", "queue_fixtures"]

EMAIL = {"to": "learner@example.com", "subject": "Hello", "body": "This is a test email."}


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
def sandbox():
    """A running sandbox (app and mail server on real loopback sockets), stopped after the test."""
    runner.stop()
    sandbox = runner.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def thread_names():
    """A function listing the names of the threads alive now."""
    return lambda: sorted(t.name for t in threading.enumerate())


def eventually(condition, timeout=5.0, interval=0.01):
    """Poll `condition` until it returns something truthy; return it, or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            assert result, f"condition still false after {timeout} s"
            return result
        time.sleep(interval)

"""Shared fixtures: a real debug mail server, the app sending to it, a running sandbox (helpers: tests/helpers/).

No test writes into the user's own state folder: the session gets a temporary one (children inherit it),
and every test a fresh one of its own.
"""

import os
import shutil
import tempfile

import pytest

from sandbox_app import create_app, runner
from sandbox_app.mailer.background import get_background
from sandbox_app.smtp.server import DebugMailServer

pytest_plugins = [
    "server_environment",
    "browser_fixtures",
    "hub_fixtures",
    "service_fixtures",
    "queue_fixtures",
    "notebooks_twice",
    "redis_notebooks",
    "require_all",
    "leftovers",
    "scheduling",
    "pytester",
]
STATE_VARIABLES = ("SANDBOX_STATE_DIR", "XDG_STATE_HOME")
# What a learner's shell may hold that would change what the tests see or where they write: a hub terminal sets
# the quiz's folder and the hub's identity and token (a test would post to the live class), a laptop may set
# SANDBOX_OPEN or a key. The tests that need one set it themselves. (SANDBOX_NO_REDIS stays: it is how a run
# says "no Redis here", as .ci/run's learner run does.)
FOREIGN_VARIABLES = (
    "QUIZ_RESPONSES_DIR", "QUIZ_LEARNER", "QUIZ_SERVICE_URL", "SANDBOX_OPEN", "SANDBOX_KEY", "SANDBOX_SMTP_PASSWORD",
    "JUPYTERHUB_USER", "JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL",
    "JUPYTERHUB_CLIENT_ID", "JUPYTERHUB_BASE_URL", "JUPYTERHUB_SERVICE_URL", "JPY_API_TOKEN",
)  # fmt: skip
_session_state = tempfile.mkdtemp(prefix="sandbox-test-state-")


def pytest_configure(config):
    """Point the state folder and the caches of this process and every child it starts at temporary ones, before any fixture.

    Nothing is written into the user's home: matplotlib's font cache and IPython's profile (every kernel makes
    one) go into the session's folder too.
    """
    for variable in FOREIGN_VARIABLES:
        os.environ.pop(variable, None)
    for variable in STATE_VARIABLES:
        os.environ[variable] = _session_state
    os.environ["MPLCONFIGDIR"] = os.path.join(_session_state, "matplotlib")
    os.environ["IPYTHONDIR"] = os.path.join(_session_state, "ipython")
    # jedi's cache, Chromium's crash-report settings, npm's logs: any tool that follows XDG or reads npm's variable.
    os.environ["XDG_CACHE_HOME"] = os.path.join(_session_state, "cache")
    os.environ["XDG_CONFIG_HOME"] = os.path.join(_session_state, "config")
    os.environ["npm_config_cache"] = os.path.join(_session_state, "npm")  # noqa: SIM112 (npm's own spelling)
    # Kernels write their connection files into Jupyter's runtime folder; a learner's own Jupyter settings
    # would change what the tests see.
    os.environ["JUPYTER_RUNTIME_DIR"] = os.path.join(_session_state, "jupyter-runtime")
    os.environ["JUPYTER_CONFIG_DIR"] = os.path.join(_session_state, "jupyter-config")


def pytest_unconfigure(config):
    """Remove the session's temporary state folder."""
    shutil.rmtree(_session_state, ignore_errors=True)


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
def make_app(mail_server):
    """make_app(config=None) -> an app sending to the test's mail server; each one stopped after the test."""
    made = []

    def make(config: dict | None = None):
        made.append(create_app(config, mail_server=mail_server))
        return made[-1]

    yield make
    for app in made:
        get_background(app).finish(timeout=10)  # its threads, pool and queue: nothing outlives the test


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    """A fresh state folder for every test (queue databases, logs, counters): no test shares one, or uses the user's."""
    folder = tmp_path / "state"
    for variable in STATE_VARIABLES:
        monkeypatch.setenv(variable, str(folder))
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

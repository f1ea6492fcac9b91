"""One settings object reaches every child process; a child reports ready through its file; the launcher's channel."""

import dataclasses
import json
import os
import sys
import threading
from pathlib import Path

import psutil
import pytest
from helpers import refusing_port

from sandbox_app.config import SandboxConfig, get_settings
from sandbox_app.processes.channel import ChannelError, LauncherChannel, LauncherClient
from sandbox_app.processes.child import ChildError, ChildProcess
from sandbox_app.processes.env import SETTINGS_ENV, InvalidSettings, settings_env
from sandbox_app.processes.webprocess import WebProcess
from sandbox_app.sandbox import Sandbox
from sandbox_app.smtp.settings import SettingsError
from sandbox_app.web.factory import create_app

# A child that reads its settings, asks its launcher over the channel, and reports both through its ready file.
CHILD = """
import time
from sandbox_app.config import SandboxConfig
from sandbox_app.processes.channel import LauncherClient
from sandbox_app.processes.env import report_ready

settings = SandboxConfig.from_env()
answer = LauncherClient(settings.launcher_port, settings.launcher_authkey).call("add", 2, 3)
report_ready(key=settings.key, smtp_port=settings.smtp_port, queue=settings.queue_name, answer=answer)
time.sleep(60)
"""


def settings(**changes) -> SandboxConfig:
    """Settings as a started sandbox has them, with `changes`."""
    return dataclasses.replace(
        SandboxConfig.resolve(key="settings-key-0123", server="waitress", queue_name="shop", app_config={"X": [1]}),
        smtp_port=8025, stats_path="/tmp/stats.sqlite3", **changes,
    )  # fmt: skip


def test_settings_come_back_from_json_as_they_were():
    original = settings(launcher_port=4000, launcher_authkey="ab" * 32)
    assert SandboxConfig.from_json(original.to_json()) == original


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"port": "eighty"}', "settings: port: Input should be a valid integer"),
        ('{"smtp_prot": 25}', "settings: smtp_prot: Unexpected keyword argument"),
        ('{"server": "apache"}', "settings: unknown server 'apache'"),
        ('{"key": "short"}', "settings: a key is 8 to 128 letters"),
        ("{not json", "settings: the settings: Invalid JSON"),
    ],
)
def test_settings_that_do_not_fit_name_the_field_in_one_line(text, message):
    with pytest.raises(InvalidSettings) as raised:
        SandboxConfig.from_json(text)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_a_child_without_settings_is_told_which_variable_to_set():
    with pytest.raises(InvalidSettings, match=r"no settings: \$SANDBOX_SETTINGS is not set"):
        SandboxConfig.from_env({})


def test_one_childs_flask_settings_go_on_top_of_the_sandboxs():
    worker = settings().with_app_config({"QUEUE_SEND_ONCE": True})
    assert worker.app_config == {"X": [1], "QUEUE_SEND_ONCE": True}
    assert settings().app_config == {"X": [1]}  # the sandbox's own are untouched
    flask = worker.flask_config()
    assert flask["QUEUE_SEND_ONCE"] is True and flask["MAIL_PASSWORD"] == "settings-key-0123"
    assert flask["STATS_PATH"] == "/tmp/stats.sqlite3" and flask["QUEUE_NAME"] == "shop"


def test_an_app_keeps_the_settings_it_was_built_from(state_dir):
    built = settings(server="inprocess")
    app = create_app(built)
    assert get_settings(app) is built
    assert app.config["MAIL_PORT"] == 8025 and app.config["SANDBOX_KEY"] == "settings-key-0123"
    tests_app = create_app({"MAIL_PORT": 2525, "QUEUE_NAME": "t"})  # flaskr's test_config still works
    assert get_settings(tests_app).app_config == {"MAIL_PORT": 2525, "QUEUE_NAME": "t"}


def test_a_child_gets_its_settings_in_one_object_and_reports_ready_through_its_file(state_dir):
    with LauncherChannel() as channel:
        channel.serve("add", lambda a, b: a + b)
        given = settings(launcher_port=channel.port, launcher_authkey=channel.authkey)
        env = {**os.environ, **settings_env(given)}
        child = ChildProcess([sys.executable, "-c", CHILD], state_dir / "child.log", env=env, reports_ready=True)
        with child.start():
            assert child.report == {"key": "settings-key-0123", "smtp_port": 8025, "queue": "shop", "answer": 5}
            # Its settings (and the key in them) are in its environment, readable by this user alone, never argv.
            command_line = " ".join(psutil.Process(child.pid).cmdline())
            assert "settings-key-0123" not in command_line
            assert json.loads(psutil.Process(child.pid).environ()[SETTINGS_ENV]) == json.loads(given.to_json())
        assert not list(state_dir.glob("ready-*"))  # the ready file's folder went once it was read


@pytest.mark.slow  # a child process
def test_a_child_that_never_reports_ready_fails_with_its_log(state_dir):
    code = "import time; print('started, but says nothing'); time.sleep(60)"
    child = ChildProcess([sys.executable, "-uc", code], state_dir / "quiet.log", reports_ready=True, startup_timeout=1)
    with pytest.raises(ChildError, match="started, but says nothing"):
        child.start()
    assert not child.running
    assert not list(state_dir.glob("ready-*"))


@pytest.mark.slow  # the app in a process of its own
def test_the_web_process_reports_its_url_and_key_without_reading_its_banner(state_dir):
    with WebProcess("--queue-workers", "0", env={"SANDBOX_KEY": "web-process-key-0123"}) as web:
        assert web.key == "web-process-key-0123"
        assert web.url.startswith("http://127.0.0.1:") and web.url.endswith("/")
        assert f"?key={web.key}" in web.read_log()  # the banner is for people, and still says it


def test_the_channel_answers_by_name_raises_what_the_handler_raised_and_refuses_a_wrong_key():
    channel = LauncherChannel()
    channel.serve("refuse", lambda: (_ for _ in ()).throw(SettingsError("delay must be at least 0")))
    before = set(threading.enumerate())
    with channel:
        client = LauncherClient(channel.port, channel.authkey, timeout=5)
        with pytest.raises(SettingsError, match="delay must be at least 0"):
            client.call("refuse")
        with pytest.raises(ChannelError, match="serves no 'queue.prepare'; it serves \\['refuse'\\]"):
            client.call("queue.prepare", "rq")
        with pytest.raises(OSError, match="closed the channel without answering 'refuse'"):
            LauncherClient(channel.port, "not-the-key", timeout=5).call("refuse")
        port = channel.port
    assert set(threading.enumerate()) <= before  # stop() leaves no thread behind
    with pytest.raises(OSError):
        LauncherClient(port, channel.authkey, timeout=1).call("refuse")


def test_a_launcher_that_is_gone_is_an_oserror():
    with refusing_port() as port, pytest.raises(OSError):
        LauncherClient(port, "k" * 64, timeout=1).call("mail.running")


@pytest.mark.slow  # the app in a process of its own
def test_a_sandbox_out_of_process_owns_its_channel_and_stops_it(state_dir):
    sandbox = Sandbox(SandboxConfig.resolve(server="waitress", workers=1, open=True))
    with sandbox:
        assert sandbox.settings.launcher_port == sandbox.channel.port
        stats_file = Path(sandbox.settings.stats_path)
        assert stats_file.exists()  # the counters every process of the app shares, made at start
        client = LauncherClient(sandbox.channel.port, sandbox.channel.authkey, timeout=5)
        assert client.call("mail.address") == sandbox.mail_server.address
    assert sandbox.channel is None
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("launcher-")]
    assert not stats_file.exists()

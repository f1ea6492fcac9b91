"""The suite's session servers and its order: built environments, never a test's; the longest files first."""

import os

import file_order
from server_environment import server_environment


def test_a_session_server_gets_none_of_the_environment_the_test_that_asked_set(state_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("QUIZ_RESPONSES_DIR", str(tmp_path / "a test's answers"))
    monkeypatch.setenv("PATH", "/a/test/s/own/bin")
    env = server_environment(tmp_path / "server", QUIZ_LEARNER="someone")
    assert "QUIZ_RESPONSES_DIR" not in env and env["PATH"] != "/a/test/s/own/bin"  # as the session started
    assert os.environ["SANDBOX_STATE_DIR"] == str(state_dir)  # this test's own folder, which the server must not use
    for name in ("SANDBOX_STATE_DIR", "XDG_STATE_HOME", "XDG_CACHE_HOME", "IPYTHONDIR", "JUPYTER_RUNTIME_DIR"):
        assert env[name].startswith(str(tmp_path / "server")), name
    assert env["QUIZ_LEARNER"] == "someone"
    assert env["SANDBOX_TEST_RUN"] == os.environ["SANDBOX_TEST_RUN"]  # tests/leftovers.py finds its leaks by it


def test_files_run_longest_first_each_file_whole_and_in_order(pytester):
    pytester.makeconftest('pytest_plugins = ["file_order"]')
    pytester.makepyfile(
        test_short="def test_a(): pass\ndef test_b(): pass",
        test_site="def test_c(): pass\ndef test_d(): pass",  # a name on file_order's list of long files
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q")
    collected = [line for line in result.outlines if "::" in line]
    assert collected == [
        "test_site.py::test_c",
        "test_site.py::test_d",
        "test_short.py::test_a",
        "test_short.py::test_b",
    ]
    assert file_order.file_seconds(pytester.path / "test_site.py") > 0
    assert file_order.file_seconds(pytester.path / "17-sending-once.ipynb") > 0  # from tools/cell_seconds.yaml

"""The suite's session servers and its scheduling: built environments, never a test's; hub files on one worker."""

import os
from pathlib import Path

import pytest
import scheduling
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


TESTS_DIR = Path(__file__).resolve().parent
# Each test notes the xdist worker that ran it, by its file's name.
NOTE_WORKER = """
import os, pathlib

def test_{name}(request):
    notes = pathlib.Path({notes!r})
    with notes.open("a") as out:
        out.write(f"{{request.node.path.name}} {{os.environ.get('PYTEST_XDIST_WORKER', 'none')}}\\n")
"""


def test_units_run_longest_first_each_whole_and_in_order(pytester, monkeypatch):
    pytester.makeconftest('pytest_plugins = ["scheduling"]')
    pytester.makepyfile(
        test_short="def test_a(): pass\ndef test_b(): pass",
        test_site="def test_c(): pass\ndef test_d(): pass",  # a name on scheduling's list of long files
    )
    # In a process of its own: in this one, the suite's own test_site module may be imported already.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS_DIR), str(TESTS_DIR.parent)]))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q")
    collected = [line for line in result.outlines if "::" in line]
    assert collected == [
        "test_site.py::test_c",
        "test_site.py::test_d",
        "test_short.py::test_a",
        "test_short.py::test_b",
    ]
    assert scheduling.unit_seconds(pytester.path / "test_site.py") > 0
    assert scheduling.unit_seconds(pytester.path / "17-sending-once.ipynb") > 0  # from tools/cell_seconds.yaml
    assert scheduling.unit_seconds(pytester.path / "test_hub_quiz.py") == scheduling.UNIT_SECONDS["test_hub_*.py"]


def test_a_test_marked_hub_outside_the_hub_files_fails_the_collection(pytester):
    pytester.makeconftest('pytest_plugins = ["scheduling"]')
    pytester.makeini("[pytest]\nmarkers =\n    hub: runs a real JupyterHub")
    pytester.makepyfile(test_elsewhere="import pytest\n\n@pytest.mark.hub\ndef test_x(): pass")
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "a test marked hub must live in tests/test_hub_*.py" in result.stderr.str()


def test_under_loadfile_the_hub_files_run_on_one_worker(pytester, monkeypatch, tmp_path):
    notes = tmp_path / "workers.txt"
    pytester.makeconftest('pytest_plugins = ["scheduling"]')
    # Plain loadfile gives the first two files to the two workers, one each: here both are hub files.
    files = {"test_hub_a": "a", "test_hub_b": "b", "test_other_c": "c", "test_other_d": "d"}
    pytester.makepyfile(**{file: NOTE_WORKER.format(name=name, notes=str(notes)) for file, name in files.items()})
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS_DIR), str(TESTS_DIR.parent)]))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # three processes start: only xdist, not nbval's kin
    result = pytester.runpytest_subprocess("-p", "xdist", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile")
    result.assert_outcomes(passed=4)
    worker = dict(line.split() for line in notes.read_text().splitlines())
    assert worker["test_hub_a.py"] == worker["test_hub_b.py"] != "none", worker

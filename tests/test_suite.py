"""The suite's own rules and helpers: a state folder per test, no skip when every test must run, free ports."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import REQUIRE_ALL, free_port, process_exists, run_program, start_on_free_port, wait_gone
from redis_notebooks import needs_redis

from sandbox_app import paths
from sandbox_app.processes.child import ChildError, ChildProcess
from sandbox_app.smtp.loopback import LOOPBACK
from tools.course import lesson_paths

# Three ways a test skips: by hand, by a mark, and for want of a part (helpers.missing); one test passes.
SKIPPING = """
import nbformat
import pytest
from helpers import missing

def test_skipped_by_hand():
    pytest.skip("no reason given")

@pytest.mark.skipif(True, reason="a condition")
def test_skipped_by_a_mark():
    pass

def test_skipped_for_want_of_a_part():
    missing("a part", "install it")

def test_passes():
    pass
"""


def test_every_test_keeps_its_state_in_a_temporary_folder_of_its_own(tmp_path, state_dir):
    assert paths.state_dir() == state_dir == tmp_path / "state"
    assert os.environ["XDG_STATE_HOME"] == str(state_dir)  # for any other tool that keeps state there


@pytest.mark.parametrize(
    ("require_all", "outcomes"),
    # A mark skips in the test's setup: it comes out as an error, a skip in the test itself as a failure.
    [(None, {"passed": 1, "skipped": 3}), ("1", {"passed": 1, "failed": 2, "errors": 1})],
    ids=["skips-allowed", "require-all"],
)
def test_a_skip_of_any_kind_fails_when_every_test_must_run(pytester, monkeypatch, require_all, outcomes):
    if require_all:
        monkeypatch.setenv(REQUIRE_ALL, require_all)
    else:
        monkeypatch.delenv(REQUIRE_ALL, raising=False)
    pytester.makepyfile(SKIPPING)
    result = pytester.runpytest_inprocess("-p", "require_all")
    result.assert_outcomes(**outcomes)
    if require_all:
        result.stdout.fnmatch_lines(["Skipped: no reason given (SANDBOX_REQUIRE_ALL=1: nothing may be skipped)"])


# A server that binds the port it is given, as redis-server, JupyterLab and JupyterHub do: Python says
# "[Errno 98] Address already in use" when another process holds it. It says where it listens: Python 3.13's
# traceback of a -c program quotes the program's line, so a fixed word in it would also be in a failure's log.
LISTENER = "import socket, sys, time; s = socket.create_server(('127.0.0.1', int(sys.argv[1]))); print('listening on', s.getsockname()[1]); time.sleep(60)"


def listener(port: int, folder) -> ChildProcess:
    """A ChildProcess listening on `port`, ready once it says so."""
    child = ChildProcess([sys.executable, "-uc", LISTENER, port], folder / f"listener-{port}.log", what="a listener")
    child.ready = lambda: f"listening on {port}" in child.read_log()
    return child


# A program that starts a grandchild and outlives its timeout: subprocess.run(timeout=) would kill only the program.
HANGING = "import subprocess, sys, time; print(subprocess.Popen(['sleep', '300']).pid, flush=True); time.sleep(300)"


@pytest.mark.slow  # waits out a program's timeout
def test_a_program_run_past_its_timeout_is_stopped_with_what_it_started(tmp_path):
    with pytest.raises(ChildError, match="did not finish in 1 s") as error:
        run_program([sys.executable, "-uc", HANGING], tmp_path / "hanging", timeout=1)
    grandchild = int(str(error.value).split("its log:\n")[1].split()[0])  # it printed its child's pid
    wait_gone(grandchild, timeout=5)
    assert not process_exists(grandchild)


def test_a_program_s_stdout_and_stderr_are_kept_apart(tmp_path):
    code = "import sys; print('[1, 2]'); print('progress', file=sys.stderr); sys.exit(3)"
    done = run_program([sys.executable, "-c", code], tmp_path / "both", timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (3, "[1, 2]\n", "progress\n")


def test_a_server_whose_free_port_was_taken_meanwhile_starts_on_another(tmp_path):
    with socket.create_server((LOOPBACK, 0)) as taken:
        ports = iter([taken.getsockname()[1], free_port()])
        tried = []

        def make() -> ChildProcess:
            tried.append(next(ports))
            return listener(tried[-1], tmp_path)

        with start_on_free_port(make, "address already in use") as server:
            assert server.running and len(tried) == 2
            assert "Address already in use" in (tmp_path / f"listener-{tried[0]}.log").read_text()


def test_a_server_that_fails_for_another_reason_is_not_tried_again(tmp_path):
    made = []

    def make() -> ChildProcess:
        command = [sys.executable, "-c", "raise SystemExit('no config')"]
        made.append(ChildProcess(command, tmp_path / "x.log", ready=lambda: False))
        return made[-1]

    with pytest.raises(ChildError, match="no config"):
        start_on_free_port(make, "address already in use")
    assert len(made) == 1


def test_every_port_taken_ends_in_one_error_with_the_last_log(tmp_path):
    with socket.create_server((LOOPBACK, 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(ChildError, match=r"could not get a free port in 2 attempts(.|\n)*Address already in use"):
            start_on_free_port(lambda: listener(port, tmp_path), "address already in use", attempts=2)


def test_only_the_lessons_on_celery_and_rq_need_redis():
    notebooks = [Path("notebooks") / f"{lesson.stem}.ipynb" for lesson in lesson_paths()]
    assert [n.stem for n in notebooks if needs_redis(n)] == [
        "14-celery-and-rq",
        "15-three-queues",
        "16-stopping-workers",
        "17-sending-once",
    ]


def notebook_printing(source: str, *printed: str):
    """A notebook of one code cell, committed with what it printed (in one or more pieces, as a kernel sends it)."""
    outputs = [nbformat.v4.new_output("stream", name="stdout", text=text) for text in printed]
    cell = nbformat.v4.new_code_cell(source, execution_count=1, outputs=outputs)
    return nbformat.v4.new_notebook(
        cells=[cell], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )


@pytest.mark.slow
def test_every_notebook_runs_twice_and_its_second_run_is_compared_as_strictly(pytester):
    runs = "import builtins\nbuiltins.runs = getattr(builtins, 'runs', 0) + 1\nprint(builtins.runs)"
    thread = "import threading, time\nthreading.Thread(target=time.sleep, args=(60,), name='lesson-thread', daemon=True).start()"
    # One more process each run, kept: it reads its stdin until the kernel, the pipe's other end, is gone.
    process = (
        "import builtins, subprocess, sys\nbuiltins.kept = getattr(builtins, 'kept', [])\n"
        "builtins.kept.append(subprocess.Popen([sys.executable, '-c', 'import sys; sys.stdin.read()'], stdin=subprocess.PIPE))"
    )
    notebooks = {
        "same": notebook_printing("print('the same')\nprint('each time')", "the same\n", "each time\n"),
        "counts": notebook_printing(runs, "1\n"),  # its second run prints 2
        "leaks": notebook_printing(thread + "\nprint('started')", "started\n"),  # a thread left running
        "spawns": notebook_printing(process + "\nprint('started')", "started\n"),  # a process left running
    }
    for name, nb in notebooks.items():
        nbformat.write(nb, pytester.path / f"{name}.ipynb")
    result = pytester.runpytest_inprocess(
        "-p", "notebooks_twice", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=20, failed=4)  # per notebook: its cell twice, the folder, three checks
    result.stdout.fnmatch_lines([
        "FAILED counts.ipynb::Cell 0, second Run All*",
        "FAILED leaks.ipynb::after the first Run All*",
        "FAILED leaks.ipynb::after the second Run All*",
        "FAILED spawns.ipynb::after the second Run All*",
    ])  # fmt: skip

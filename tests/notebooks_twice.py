"""A pytest plugin: nbval runs every notebook twice in its one kernel, the second time from another folder.

A learner clicks Run All again, or re-runs a cell, in a kernel where the sandbox already runs. After
nbval's cells, the same cells again, compared just as strictly (the second Run All must print what the
committed notebook shows), between two checks of the kernel: the servers it listens on, the threads it
runs and the processes it started, after each Run All. One kernel for both runs: the notebooks run twice in
all, not three times.

A learner also clicks a later cell first, or after stopping the sandbox. In a lesson that starts the sandbox,
a later cell that uses it runs before the first Run All and again after `sandbox.stop()` at the end: each
time it must say, in one line, to start the sandbox first (in the same kernel: no lesson's sandbox starts twice).
"""

from __future__ import annotations

import ast
import copy
import re
import textwrap
import time
from collections import defaultdict

import nbformat
import psutil
import pytest
from nbval.plugin import IPyNbCell

# Run after each Run All: wait for background sends, then print the kernel's pid and its threads.
STATE = textwrap.dedent(
    """
    import os, threading, sandbox_app
    from sandbox_app.lab import wait_until_settled
    _sandbox = sandbox_app.current()
    _owned = []
    if _sandbox is not None:
        wait_until_settled(_sandbox)
        # What the running sandbox listens on in this process: its mail server, its HTTP server and, with the app in
        # a process of its own, the launcher's channel; with outbox relays started, the channel they ask it through.
        _owned = [_sandbox.smtp_port, _sandbox.http_server.port] + ([_sandbox.channel.port] if _sandbox.channel else [])
        _relays = _sandbox.relays if _sandbox.in_process else None
        _owned += [_relays.channel.port] if _relays is not None and _relays.channel is not None else []
    print(repr((os.getpid(), sorted(t.name for t in threading.enumerate()), sorted(_owned))))
    """
)
# Before the first: the kernel's own channels and threads (nothing imported that the notebook would import).
BEFORE = "import os, threading; print(repr((os.getpid(), sorted(t.name for t in threading.enumerate()), [])))"
# Before the second Run All: another folder, as a hub's file browser may start a kernel in.
SECOND_FOLDER = (  # inside the session's state folder: nothing is left in /tmp
    "import os, tempfile; folder = os.environ.get('SANDBOX_STATE_DIR') or tempfile.gettempdir(); "
    "os.makedirs(folder, exist_ok=True); os.chdir(tempfile.mkdtemp(prefix='second-run-all-', dir=folder))"
)
# What a cell that needs the sandbox says when it has not started or was stopped (sandbox_app/lab/running.py).
NOT_RUNNING_HINT = "start the sandbox first: run the first cell"
TRANSIENT_THREADS = ("measure-client-", "load-client-", "lesson-thread", "mail-")
# How long the processes a run stopped get to be gone before the second run's count is judged.
PROCESS_GRACE_SECONDS = 5.0


def starts_the_sandbox(nb) -> bool:
    """Whether the notebook's first code cell starts the sandbox."""
    cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    return bool(cells) and "sandbox_app.start(" in cells[0].source


def too_early_cell(nb) -> str | None:
    """A later cell that needs the sandbox and imports what it uses, as a learner clicks it in a fresh kernel.

    Only a cell that imports from sandbox_app can explain itself there: nothing else has run yet.
    """
    if not starts_the_sandbox(nb):
        return None
    candidates = [
        c.source for c in nb.cells[1:]
        if c.cell_type == "code" and re.search(r"\w\(sandbox\b", c.source) and "sandbox_app" in c.source
        and "sandbox_app.start(" not in c.source
    ]  # fmt: skip
    return candidates[0] if candidates else None


def child_processes(pid: int) -> list[str]:
    """The processes a kernel started, at any depth and still running (a zombie has ended), as 'pid command'."""
    described = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                described.append(f"{child.pid} {' '.join(child.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            continue
    return described


def no_more_processes(pid: int, most: int) -> list[str]:
    """The kernel's child processes once there are at most `most` of them, or after a grace period if not."""
    deadline = time.monotonic() + PROCESS_GRACE_SECONDS
    while len(children := child_processes(pid)) > most and time.monotonic() < deadline:
        time.sleep(0.1)  # a process stopped a moment ago may still be exiting
    return children


def listening_ports(pid: int) -> set[int]:
    """The TCP ports a process listens on."""
    connections = psutil.Process(pid).net_connections(kind="tcp")
    return {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN}


class ExtraCell(IPyNbCell):
    """A cell of this plugin's, not the notebook's: reported by its name."""

    def reportinfo(self):
        return self.path, 0, self.name


class KernelState(ExtraCell):
    """An extra cell before and after each Run All: the kernel's servers, threads and processes, checked after each
    run."""

    def runtest(self):
        super().runtest()  # executes self.cell in nbval's kernel; its outputs in self.test_outputs
        printed = "".join(o.get("text", "") for o in self.test_outputs if o.get("name") == "stdout")
        pid, threads, owned = ast.literal_eval(printed.strip().splitlines()[-1])
        runs = self.parent.__dict__.setdefault("kernel_states", [])
        if not runs:  # before the first Run All: the kernel's own channels
            runs.append((listening_ports(pid), threads))
            return
        runs.append((listening_ports(pid) - runs[0][0], threads))
        processes = self.parent.__dict__.setdefault("kernel_processes", [])
        if not processes:  # after the first Run All: what a run leaves running (a sandbox's Redis, its workers)
            processes.append(child_processes(pid))
        else:  # the second leaves no more: nothing of the first run lives on beside its replacement
            processes.append(no_more_processes(pid, len(processes[0])))
            first, second = processes
            assert len(second) <= len(first), f"processes after Run All 1: {first}; after Run All 2: {second}"
        nb = self.parent.nb
        listening, names = runs[-1]
        assert bool(owned) == starts_the_sandbox(nb), f"the sandbox after Run All {len(runs) - 1}: {owned}"
        # Nothing listens in the kernel but the running sandbox's own servers: no server left by an earlier run.
        assert listening == set(owned), f"listening after Run All {len(runs) - 1}: {listening}, the sandbox's: {owned}"
        assert names.count("sandbox-http") == int(starts_the_sandbox(nb)), names
        assert not [name for name in names if name.startswith(TRANSIENT_THREADS)], names
        assert len([name for name in names if name.startswith("waitress")]) <= 4, names
        if len(runs) == 3:
            _, (first, _), (second, _) = runs
            code = "".join(cell.source for cell in nb.cells if cell.cell_type == "code")
            if "sandbox_app.stop()" in code or "run_model(" in code:  # run_model starts and stops sandboxes
                # A lesson that restarts the sandbox (lesson 7, under other servers) gets new ports: none left over.
                assert len(second) == len(first), "the second run left servers behind"
            else:
                assert second == first, "the second run started other servers"


class TooEarly(ExtraCell):
    """A later cell run before the sandbox started, or after it stopped: one line that says to start it, no
    traceback."""

    stopped = False  # run after `sandbox.stop()` (True) or before the first Run All (False)

    def runtest(self):
        super().runtest()  # check_exception: the error is kept in self.test_outputs, not raised
        errors = [o for o in self.test_outputs if o.get("output_type") == "error"]
        assert len(errors) == 1, f"the cell run too early should fail once: {self.test_outputs}"
        (error,) = errors
        if self.stopped:
            assert error["ename"] == "SandboxNotRunning" and NOT_RUNNING_HINT in error["evalue"], error
            assert len(error["traceback"]) == 1, "a traceback instead of the one-line hint"
        else:
            assert error["ename"] == "NameError" and NOT_RUNNING_HINT in error["traceback"][-1], error
            assert len(error["traceback"]) == 2, "a traceback instead of the name and the hint"


def _extra(parent, name: str, source: str, kind: type[ExtraCell] = ExtraCell, **options):
    """A cell nbval runs in the notebook's kernel without comparing its output."""
    cell = nbformat.v4.new_code_cell(source)
    return kind.from_parent(parent, name=name, cell_num=-1, cell=cell, options=defaultdict(bool, options))


@pytest.hookimpl(tryfirst=True)  # before the plugins that mark notebooks' items (redis_notebooks)
def pytest_collection_modifyitems(config, items):
    notebooks: dict = {}
    for item in items:
        if isinstance(item, IPyNbCell):
            notebooks.setdefault(item.parent, []).append(item)
    for parent, cells in notebooks.items():
        # A copy of each cell: nbval joins the committed streams in place (into the first), once per run.
        again = [
            IPyNbCell.from_parent(
                parent,
                name=f"{cell.name}, second Run All",
                cell_num=cell.cell_num,
                cell=copy.deepcopy(cell.cell),
                options=cell.options,
            )
            for cell in cells
        ]
        before = _extra(parent, "before the first Run All", BEFORE, KernelState)
        first_state = _extra(parent, "after the first Run All", STATE, KernelState)
        folder = _extra(parent, "another folder", SECOND_FOLDER)
        second_state = _extra(parent, "after the second Run All", STATE, KernelState)
        first, last = [before], [second_state]
        if (later := too_early_cell(parent.nb)) is not None:
            first.append(_extra(parent, "a later cell run first", later, TooEarly, check_exception=True))
            stopped = _extra(parent, "the same after sandbox.stop()", later, TooEarly, check_exception=True)
            stopped.stopped = True
            last += [_extra(parent, "sandbox.stop()", "sandbox.stop()"), stopped]
        items[items.index(cells[0]) : items.index(cells[0])] = first
        at = items.index(cells[-1]) + 1
        items[at:at] = [first_state, folder, *again, *last]

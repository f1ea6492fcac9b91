"""Pytest plugin: the files that take longest run first, so a two-worker run does not end on one long file.

`make test` runs `pytest -n 2 --dist loadfile --no-loadscope-reorder`: pytest-xdist hands out whole files in
collection order (its default reorder would sort them by number of tests instead). This plugin sorts the
collected items by their file's cost, longest first, keeping the order within each file (a notebook's cells
run in order, in one kernel). A notebook costs twice its cells' measured seconds (tools/cell_seconds.yaml,
written by `make notebooks`: nbval runs every notebook twice); a test file what TEST_FILE_SECONDS says. Files
listed nowhere cost nothing and keep their collection order, after the others.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import yaml

CELL_SECONDS = Path(__file__).resolve().parent.parent / "tools" / "cell_seconds.yaml"
# Worker seconds per test file (setup, call and teardown summed), the files over about 5 s, measured with
# `pytest -n 2 --dist loadfile --durations=0` on the two-core machine; re-measure when a file changes much.
TEST_FILE_SECONDS = {
    "test_jupyterhub.py": 100,  # the session's hub and every hub test
    "test_site.py": 52,
    "test_celery_rq.py": 21,
    "test_lessons_browser.py": 20,  # the session's JupyterLab, when this worker starts it
    "test_quiz_browser.py": 19,
    "test_queue_state.py": 18,
    "test_jupyter_proxy.py": 15,
    "test_queue_retry_waits.py": 11,
    "test_bench_http.py": 11,
    "test_servers.py": 10,
    "test_quiz_checkpoint_browser.py": 7,
    "test_quiz_lesson_browser.py": 6,
    "test_lessons.py": 6,
    "test_own_app_lesson.py": 5,
    "test_bench.py": 5,
    "test_queue_failures.py": 5,
    "test_lesson_experiments.py": 5,
}


@cache
def notebook_seconds() -> dict[str, float]:
    """Each notebook's measured cost, by file name: twice the sum of its cells' seconds."""
    if not CELL_SECONDS.exists():
        return {}
    lessons = yaml.safe_load(CELL_SECONDS.read_text()).get("lessons") or {}
    return {f"{lesson}.ipynb": 2 * sum(cell["seconds"] for cell in cells) for lesson, cells in lessons.items()}


def file_seconds(path: Path) -> float:
    """What running this file costs a worker, as measured; 0 when it was never measured."""
    return notebook_seconds().get(path.name) or TEST_FILE_SECONDS.get(path.name, 0)


@pytest.hookimpl(trylast=True)  # after every plugin that adds or removes items (the notebooks' second Run All)
def pytest_collection_modifyitems(session, config, items):
    """Longest files first; a stable sort keeps each file's items together and in their order."""
    items.sort(key=lambda item: -file_seconds(item.path))

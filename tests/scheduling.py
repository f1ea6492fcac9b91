"""Pytest plugin: how a two-worker run hands out work. The hub tests share one worker; the longest files go first.

`make test` runs `pytest -n 2 --dist loadfile --no-loadscope-reorder`. Under loadfile, pytest-xdist hands out
whole files, here with one change (`HubTestsTogether`): every `tests/test_hub_*.py` file is one unit, so the
worker that runs them starts the session's JupyterHub once (a session fixture is per worker). A test marked
`hub` anywhere else fails the collection.

The files go out in collection order (xdist's own reorder would sort them by number of tests), and this plugin
sorts the collected items by the cost of their unit, longest first, keeping the order within each file (a
notebook's cells run in order, in one kernel). A notebook costs twice its cells' measured seconds
(tools/cell_seconds.yaml, written by `make notebooks`: nbval runs every notebook twice); a test file what
UNIT_SECONDS says. Units listed nowhere cost nothing and keep their collection order, after the others.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import yaml

HUB_FILES = "test_hub_*.py"  # the files of the tests marked hub, and the name of their unit
CELL_SECONDS = Path(__file__).resolve().parent.parent / "tools" / "cell_seconds.yaml"
# Worker seconds per unit (setup, call and teardown summed), those over about 5 s, measured with
# `pytest -n 2 --dist loadfile --durations=0` on the two-core machine; re-measure when a file changes much.
UNIT_SECONDS = {
    HUB_FILES: 130,  # the session's hub and every hub test
    "test_site.py": 56,
    "test_lessons.py": 8,  # a fresh kernel for the lesson that needs Redis, where none can run
    "test_celery_rq.py": 30,
    "test_bench.py": 28,
    "test_queue_retry_waits.py": 28,
    "test_servers.py": 21,
    "test_queue_state.py": 21,
    "test_lessons_browser.py": 20,  # the session's JupyterLab, when this worker starts it
    "test_outbox.py": 18,
    "test_kernel_kill.py": 17,
    "test_jupyter_proxy.py": 17,
    "test_quiz_browser.py": 15,
    "test_suite.py": 13,
    "test_quiz_lesson_browser.py": 11,
    "test_queue_workers.py": 9,
    "test_queue.py": 9,
    "test_loopback.py": 8,
    "test_quiz_checkpoint_browser.py": 6,
    "test_own_app_lesson.py": 5,
    "test_redis_queue.py": 5,
    "test_queue_failures.py": 5,
}


@cache
def notebook_seconds() -> dict[str, float]:
    """Each notebook's measured cost, by file name: twice the sum of its cells' seconds."""
    if not CELL_SECONDS.exists():
        return {}
    lessons = yaml.safe_load(CELL_SECONDS.read_text()).get("lessons") or {}
    return {f"{lesson}.ipynb": 2 * sum(cell["seconds"] for cell in cells) for lesson, cells in lessons.items()}


def unit_of(path: Path) -> str:
    """The unit of work a file belongs to: the hub files together, any other file alone."""
    return HUB_FILES if path.match(HUB_FILES) else path.name


def unit_seconds(path: Path) -> float:
    """What running this file's unit costs a worker, as measured; 0 when it was never measured."""
    unit = unit_of(path)
    return notebook_seconds().get(unit) or UNIT_SECONDS.get(unit, 0)


@pytest.hookimpl(trylast=True)  # after every plugin that adds or removes items (the notebooks' second Run All)
def pytest_collection_modifyitems(session, config, items):
    """Longest units first; a stable sort keeps each unit's items together and in their order."""
    strays = [item.nodeid for item in items if item.get_closest_marker("hub") and not item.path.match(HUB_FILES)]
    if strays:
        raise pytest.UsageError(f"a test marked hub must live in tests/{HUB_FILES} (one worker runs those): {strays}")
    items.sort(key=lambda item: (-unit_seconds(item.path), unit_of(item.path)))


@pytest.hookimpl(optionalhook=True)  # before pytest-xdist's own (trylast); a run without xdist never calls it
def pytest_xdist_make_scheduler(config, log):
    """Under --dist loadfile, loadfile with the hub files as one unit; otherwise xdist's own scheduler."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class HubTestsTogether(LoadFileScheduling):
        """loadfile, but the tests/test_hub_*.py files are one unit: one worker starts the session's hub."""

        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            return HUB_FILES if Path(file).match(HUB_FILES) else file

    return HubTestsTogether(config, log)

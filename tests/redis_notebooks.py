"""A pytest plugin: the lessons that need Redis (Celery and RQ) skip, with their reason, where none can run.

It covers nbval's cells of those notebooks and every test parametrized with one. Under
SANDBOX_REQUIRE_ALL=1 the require_all plugin turns these skips into failures, as for every other skip.
"""

from functools import cache
from pathlib import Path

import pytest

from sandbox_app.queues.redis_server import INSTALL_HINT, redis_binary

NEEDS_REDIS = ('start_worker(\\"celery\\")', 'start_worker(\\"rq\\")', "sandbox_app.lab.queues")  # as JSON holds them


@cache
def needs_redis(notebook: Path) -> bool:
    """Whether a notebook starts a Celery or an RQ worker, or runs the experiments on the three queues."""
    text = notebook.read_text(encoding="utf-8")
    return any(mark in text for mark in NEEDS_REDIS)


def notebooks_of(item) -> list[Path]:
    """The notebooks a collected test runs: nbval's cell's file, or notebook parameters."""
    path = Path(str(item.fspath))
    if path.suffix == ".ipynb":
        return [path]
    params = getattr(getattr(item, "callspec", None), "params", {})
    return [Path(value) for value in params.values() if isinstance(value, Path) and value.suffix == ".ipynb"]


def pytest_collection_modifyitems(config, items):
    if redis_binary() is not None:
        return
    skip = pytest.mark.skip(reason=f"this lesson runs Celery and RQ: {INSTALL_HINT}")
    for item in items:
        if any(needs_redis(notebook) for notebook in notebooks_of(item)):
            item.add_marker(skip)

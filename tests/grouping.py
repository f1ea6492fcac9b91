"""A pytest plugin: how `make test` shares the work between its xdist workers (`--dist loadgroup`).

A notebook's nbval cells must run in order in one kernel, and a test file's tests share its module
fixtures: each stays on one worker, as `--dist loadfile` would keep it. The whole-notebook tests of
test_lessons.py are the exception: one per notebook, each a minute or two, they go to whichever
worker is free, instead of all to one.
"""

from pathlib import Path

import pytest

SPREAD = {
    "test_run_all_twice_in_one_kernel_from_another_directory",
    "test_a_cell_run_too_early_says_to_start_the_sandbox",
}


def group_of(item) -> str:
    """The name of the group the item runs in."""
    if getattr(item, "originalname", None) in SPREAD:
        return item.nodeid
    return str(Path(str(item.fspath)))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group_of(item)))

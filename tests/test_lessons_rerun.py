"""The other half of the notebooks run twice in one kernel (see test_lessons.py: both workers share them)."""

import pytest
from test_lessons import RERUN_THERE, lesson_id, run_all_twice_and_check


@pytest.mark.slow
@pytest.mark.parametrize("notebook", RERUN_THERE, ids=lesson_id)
def test_run_all_twice_in_one_kernel_from_another_directory(notebook, tmp_path):
    run_all_twice_and_check(notebook, tmp_path)

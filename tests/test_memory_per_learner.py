"""`python -m tools.memory_per_learner`, the source of INSTRUCTORS.md's memory figures, on one small notebook."""

import json

import nbformat
import pytest

from tools import memory_per_learner

HELD_MB = 80  # what the cell's child process holds while the cell runs


@pytest.mark.slow  # a fresh kernel, as a learner's Run All
def test_a_process_a_cell_started_counts_at_its_peak_though_it_ended_with_the_cell(tmp_path, capsys):
    child = f"import time; held = b'x' * {HELD_MB * 1_000_000}; time.sleep(1.5)"  # written to: unique pages
    cell = f"import subprocess, sys\n\nsubprocess.run([sys.executable, '-c', {child!r}], check=True)"
    notebook = tmp_path / "01-one-child.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)]), notebook)

    assert memory_per_learner.main([str(notebook), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["lesson"] == "01-one-child"
    # Gone by the cell's end, its peak was read from the sampling thread, while the cell ran.
    assert HELD_MB * 0.95 <= row["children"] <= HELD_MB + 30, row
    assert row["kernel"] >= 20, row  # an IPython kernel, unique pages alone
    assert abs(row["total"] - row["kernel"] - row["children"]) <= 1, row  # each rounded on its own

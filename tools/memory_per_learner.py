"""Memory one learner needs, per lesson: `python -m tools.memory_per_learner [--json]`.

Runs each notebook in a fresh kernel, as a learner's Run All does, and after every cell reads the
memory of the kernel and of every process it started (the queue's consumer, an app under gunicorn,
Locust). Reports the peak per lesson, in MB of unique memory (USS: what the learner's processes
add to the machine; shared libraries counted once), so an instructor can size a hub.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

from tools.course import NOTEBOOKS_DIR

MB = 1e6


def tree_memory(pid: int) -> dict[str, float]:
    """Unique memory (MB) of a process and its descendants: the kernel itself, and the rest."""
    root = psutil.Process(pid)
    usage = {"kernel": 0.0, "children": 0.0}
    for process in [root, *root.children(recursive=True)]:
        try:
            unique = process.memory_full_info().uss / MB
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        usage["kernel" if process.pid == pid else "children"] += unique
    return usage


def lesson_peak(notebook: Path, timeout: int = 600) -> dict:
    """Run one notebook in a fresh kernel; the peak memory of its process tree after any cell."""
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}
    )
    peak = {"kernel": 0.0, "children": 0.0, "total": 0.0}
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid  # the local kernel's process
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            client.execute_cell(cell, index)
            usage = tree_memory(pid)
            total = usage["kernel"] + usage["children"]
            if total > peak["total"]:
                peak = {**usage, "total": total}
    return {"lesson": notebook.stem, **{key: round(value) for key, value in peak.items()}}


def main(argv: list[str] | None = None) -> int:
    """Measure every notebook (or the ones given) and print a table or JSON."""
    parser = argparse.ArgumentParser(prog="python -m tools.memory_per_learner", description=__doc__)
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: all in notebooks/)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    rows = [
        lesson_peak(path.resolve()) for path in (args.notebooks or sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]-*.ipynb")))
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'lesson':<24}{'kernel MB':>10}{'started MB':>12}{'peak MB':>9}")
    for row in rows:
        print(f"{row['lesson']:<24}{row['kernel']:>10}{row['children']:>12}{row['total']:>9}")
    print(f"{'most a learner needs':<24}{'':>10}{'':>12}{max(row['total'] for row in rows):>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

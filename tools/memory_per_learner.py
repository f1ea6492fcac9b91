"""Memory one learner needs, per lesson: `python -m tools.memory_per_learner [--json]`.

Runs each notebook in a fresh kernel, as a learner's Run All does, and reads the memory of the kernel
and of every process it started (the queue's consumers, Redis and the Celery and RQ workers, an app
under gunicorn, Locust) five times a second from a thread, so that a peak inside a cell counts
too. Reports the peak per lesson, in MB of unique memory (USS: what the learner's processes
add to the machine; shared libraries counted once), so an instructor can size a hub.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
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


class PeakSampler:
    """Reads a process tree's memory every `interval` s in a thread, keeping the highest total seen."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval = pid, interval
        self.peak = {"kernel": 0.0, "children": 0.0, "total": 0.0}
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the thread and the caller's reading after each cell both keep a peak
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def sample(self) -> None:
        """Read the tree once; keep it if it is the highest so far."""
        try:
            usage = tree_memory(self.pid)
        except psutil.NoSuchProcess:
            return
        total = usage["kernel"] + usage["children"]
        with self._lock:
            if total > self.peak["total"]:
                self.peak = {**usage, "total": total}

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def lesson_peak(notebook: Path, timeout: int = 600) -> dict:
    """Run one notebook in a fresh kernel; the peak memory of its process tree, during or after any cell."""
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}
    )
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid  # the local kernel's process
        with PeakSampler(pid) as sampler:
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
                    sampler.sample()  # after each cell too: a short cell may fall between two readings
    return {"lesson": notebook.stem, **{key: round(value) for key, value in sampler.peak.items()}}


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

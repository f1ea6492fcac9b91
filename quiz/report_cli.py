"""`python -m quiz report DIR... [--json] [--html FILE]`: the instructor's class view in a terminal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from .bank import BankError, load_bank
from .recording import ENV_VAR
from .records import FolderError
from .reporting import build_report


def build_parser() -> argparse.ArgumentParser:
    """The report's command line."""
    parser = argparse.ArgumentParser(
        prog="python -m quiz report",
        description=f"The class report: what learners answered, read from the folders {ENV_VAR} pointed at"
        " (searched recursively). Each learner's latest session counts; files and lines that are not"
        " responses are skipped and named on stderr.",
    )
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="a folder of <learner>.jsonl files")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.add_argument("--html", metavar="FILE", help="also write one self-contained HTML page with charts")
    parser.add_argument("--bank", help="the question bank the answers belong to (default: the course's)")
    return parser


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """0 when a report was printed (junk and empty folders included), 2 for a missing folder or a bad bank."""
    args = build_parser().parse_args(argv)
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    try:
        report = build_report(args.dirs, load_bank(args.bank))
    except (BankError, FolderError) as error:
        print(f"error: {error}", file=stderr)
        return 2
    for skip in report.skipped:
        print(f"quiz report: skipped {skip}", file=stderr)
    if args.html:
        try:
            Path(args.html).write_text(report.to_html(), encoding="utf-8")
        except OSError as error:
            print(f"error: cannot write {args.html}: {error.strerror or error}", file=stderr)
            return 2
        print(f"quiz report: wrote {args.html}", file=stderr)
    if args.json:
        print(report.to_json(), file=stdout)
        if report.empty:
            print(f"quiz report: {report.empty_message}", file=stderr)
    else:
        print(report.to_text(), end="", file=stdout)
        if report.empty:
            print(file=stdout)
    return 0

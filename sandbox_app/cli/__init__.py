"""The command line: `python -m sandbox_app` serves the sandbox; `python -m sandbox_app bench` measures it."""

from __future__ import annotations

import argparse

from .bench import add_bench
from .serve import add_serve


def build_parser() -> argparse.ArgumentParser:
    """The command line: serve by default, or the bench subcommand."""
    parser = argparse.ArgumentParser(prog="python -m sandbox_app", description=__doc__)
    add_serve(parser)
    subcommands = parser.add_subparsers(title="subcommands", metavar="{bench}")
    add_bench(subcommands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run it."""
    args = build_parser().parse_args(argv)
    return args.func(args)

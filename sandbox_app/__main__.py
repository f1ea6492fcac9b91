"""Command line: `python -m sandbox_app` runs the sandbox; `python -m sandbox_app bench` measures it."""

from __future__ import annotations

import sys

from .cli import build_parser
from .lab.bench import add_parser as add_bench


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run it."""
    args = build_parser(add_bench).parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

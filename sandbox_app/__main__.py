"""`python -m sandbox_app`: the command line (see sandbox_app.cli)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

"""`python -m tools.site`: build the course website."""

import sys

from .build import main

sys.exit(main())

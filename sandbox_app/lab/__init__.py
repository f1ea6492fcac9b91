"""What lesson cells call: measuring, replies, tables, plots and experiments, all on the running sandbox.

Importing it in IPython installs one-line hints for cells run before the sandbox started. Each name
is imported when first asked for: a client process that times requests (lab/timing.py) imports only
what it runs, not the sandbox, the app or matplotlib.
"""

from __future__ import annotations

import sys

from ..lazy import lazy_exports

_HOMES = {
    "..examples": ["DEFAULT_EMAIL"],
    ".client": ["Reply", "call", "get", "post", "put"],
    ".experiments": ["DelaySweep", "Timeline", "blocks_worker", "sweep_delay", "trace_send"],
    ".hints": ["install_hints"],
    ".links": ["link"],
    ".load": ["background_load", "background_sends", "cpu_per_request"],
    ".plots": ["plot_delay_sweep", "plot_distributions", "plot_in_order", "plot_timeline"],
    ".sandbox": ["log_messages", "reset", "running_sandbox", "status", "wait_until_settled"],
    ".source": ["show_source"],
    ".tables": ["comparison_table", "inbox", "percentile_table", "rows_table"],
    ".threads": ["error_text", "run_in_thread"],
    ".timing": ["Samples", "measure", "measure_send"],
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}
__all__ = sorted(_HOME_OF)
__getattr__, __dir__ = lazy_exports(__name__, _HOME_OF)

if "IPython" in sys.modules:  # in a notebook, importing the lab is enough; a client process has no IPython
    __getattr__("install_hints")()

"""What lesson cells call on the running sandbox: replies, measuring, tables and plots, each a plain import.

Each lesson's own experiments live in a module named by its topic (`sandbox_app.lab.server_models`, ...).
Importing the lab in IPython installs one-line hints for cells run before the sandbox started. A client
process that times requests imports `sandbox_app.measuring`, never the lab: it stays free of the app.
"""

from __future__ import annotations

from ..examples import DEFAULT_EMAIL
from ..measuring import Samples, background_load, background_sends, measure, measure_send
from .client import Reply, call, get, link, post, put
from .hints import install_hints
from .plots import plot_delay_sweep, plot_distributions, plot_in_order, plot_timeline
from .running import log_messages, reset, status, wait_until_settled
from .source import show_source
from .tables import inbox, percentile_table, rows_table
from .threads import error_text, run_in_thread

__all__ = [
    "DEFAULT_EMAIL", "Reply", "Samples", "background_load", "background_sends", "call", "error_text", "get", "inbox",
    "link", "log_messages", "measure", "measure_send", "percentile_table", "plot_delay_sweep", "plot_distributions",
    "plot_in_order", "plot_timeline", "post", "put", "reset", "rows_table", "run_in_thread", "show_source", "status",
    "wait_until_settled",
]  # fmt: skip

install_hints()  # in a notebook, importing the lab is enough (elsewhere this does nothing)

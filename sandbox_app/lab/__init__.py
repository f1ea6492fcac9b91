"""What lesson cells call: measuring, replies, tables, plots and experiments, all on the running sandbox.

Importing it in IPython installs one-line hints for cells run before the sandbox started.
"""

from ..examples import DEFAULT_EMAIL
from .client import Reply, call, get, post, put
from .experiments import DelaySweep, Timeline, blocks_worker, sweep_delay, trace_send
from .hints import install_hints
from .links import link
from .load import background_load, background_sends, cpu_per_request
from .plots import plot_delay_sweep, plot_distributions, plot_in_order, plot_timeline
from .sandbox import log_messages, reset, running_sandbox, status, wait_until_settled
from .source import show_source
from .tables import comparison_table, inbox, percentile_table, rows_table
from .threads import error_text, run_in_thread
from .timing import Samples, measure, measure_send

__all__ = [
    "DEFAULT_EMAIL", "DelaySweep", "Reply", "Samples", "Timeline",
    "background_load", "background_sends", "blocks_worker", "call", "comparison_table", "cpu_per_request",
    "error_text", "get", "inbox", "install_hints", "link", "log_messages", "measure", "measure_send",
    "percentile_table", "plot_delay_sweep", "plot_distributions", "plot_in_order", "plot_timeline", "post", "put",
    "reset", "rows_table", "run_in_thread", "running_sandbox", "show_source", "status", "sweep_delay", "trace_send",
    "wait_until_settled",
]  # fmt: skip

install_hints()  # in a notebook, importing the lab is enough

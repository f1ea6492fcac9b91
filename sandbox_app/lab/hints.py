"""In IPython, the sandbox's errors as one-line hints: what to run or install, instead of a traceback."""

from __future__ import annotations

import sys

from ..runner import current
from ..sandbox import SandboxNotRunning
from ..unavailable import Unavailable

# Raised deep in a helper, their message says all there is to do (start the sandbox; install Redis; use WSL).
ONE_LINE = (SandboxNotRunning, Unavailable)
HANDLED = (*ONE_LINE, NameError)


def _hint_for(shell, etype, value, tb, tb_offset=None):
    """IPython's custom exception handler: one line for SandboxNotRunning and Unavailable, a hint with a NameError."""
    error = f"\x1b[31m{etype.__name__}\x1b[39m: {value}"
    if issubclass(etype, ONE_LINE):
        stb = [error]  # raised deep in a helper: its traceback says nothing useful
    elif current() is None:
        stb = [error, f"\x1b[1mHint\x1b[0m: {SandboxNotRunning()}."]  # the missing name is a symptom, not the cause
    else:
        name = getattr(value, "name", None) or "this name"
        stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
        stb.append(f"\x1b[1mHint\x1b[0m: if {name!r} is set by a cell above this one, run the cells above first.")
    shell._showtraceback(etype, value, stb)
    return stb


def install_hints(shell=None) -> bool:
    """In IPython, show the sandbox's errors as hints (see the module docstring); True when installed."""
    if shell is None and "IPython" in sys.modules:  # never loaded for this: a plain Python process has no shell
        shell = sys.modules["IPython"].get_ipython()  # None outside IPython's shell
    if shell is None:
        return False
    if shell.custom_exceptions and shell.custom_exceptions != HANDLED:
        return False  # someone else's handler: leave it alone
    shell.set_custom_exc(HANDLED, _hint_for)
    return True

"""Run lesson code in a thread and bring what it raised back to the cell."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def run_in_thread(target: Callable[..., Any], *args: Any, timeout: float = 30.0) -> BaseException | None:
    """Run `target(*args)` in a new thread, wait for it, and return what it raised (None if nothing).

    The exception comes back to the caller to print from the cell: an exception left in a thread
    is only printed to stderr, which in a notebook can land in a later cell or nowhere.
    """
    raised: list[BaseException] = []

    def run() -> None:
        try:
            target(*args)
        except BaseException as error:
            raised.append(error)

    thread = threading.Thread(target=run, name="lesson-thread")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"the thread was still running after {timeout:g} s")
    return raised[0] if raised else None


def error_text(error: BaseException | None) -> str:
    """An exception as Python prints its last line: 'RuntimeError: ...' (or 'no error')."""
    return "no error" if error is None else f"{type(error).__name__}: {error}"

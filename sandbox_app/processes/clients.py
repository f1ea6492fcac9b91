"""Load-generating clients in a process of their own, as real users are: never sharing the app's CPU or GIL."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

JOIN_TIMEOUT = 30.0


def client_context(preload: str):
    """How to start a client process: forked from a clean server process (with `preload` imported) where possible."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")  # Windows
    context = multiprocessing.get_context("forkserver")
    # The server imports `preload` once, and not the caller's __main__ (a notebook's kernel, or stdin):
    # each client process then forks from it ready to measure, in milliseconds.
    context.set_forkserver_preload([preload])
    return context


def client_pool(preload: str) -> ProcessPoolExecutor:
    """One client process, to submit a measuring function to (use it in a `with` block)."""
    return ProcessPoolExecutor(1, mp_context=client_context(preload))


def _send_result(results, function: Callable, *args) -> None:
    """The client process's body: run the function, then send its result back (or its error)."""
    try:
        results.send(function(*args))
    except Exception as error:  # raised again in the parent, with its message
        results.send(error)


@contextmanager
def in_a_client_process(function: Callable, *args, preload: str, name: str) -> Iterator[tuple]:
    """`function(*args, stop, steady)` in a client process while the block runs: yields (stop, steady, collect).

    `stop()` sets the stop event; `steady()` says whether the function set its steady event (or died);
    `collect()` returns what it returned, or raises what it raised.
    """
    context = client_context(preload)
    stop, steady = context.Event(), context.Event()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_send_result, args=(send, function, *args, stop, steady), name=name)
    process.start()
    send.close()

    def collect():
        answer = receive.recv()
        if isinstance(answer, Exception):
            raise answer
        return answer

    try:
        yield stop.set, lambda: steady.is_set() or not process.is_alive(), collect
    finally:
        stop.set()
        process.join(JOIN_TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join()
        receive.close()

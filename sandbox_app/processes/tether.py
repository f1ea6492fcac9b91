"""A program that runs a command only while the process that started it lives: `python -m sandbox_app.processes.tether FD COMMAND...`.

A program we did not write (redis-server) cannot watch its parent, and Linux's PR_SET_PDEATHSIG fires when the
*thread* that forked the child ends, not the process. The parent keeps the write end of a pipe and passes the read
end (FD) here: when the parent is gone, however it ended (a kernel killed by nbval, the out-of-memory killer, a
graceful shutdown), the kernel closes its end, the read returns end-of-file, and the command is stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

STOP_GRACE = 5.0  # seconds the command gets to end after SIGTERM, before SIGKILL


def stop(child: subprocess.Popen) -> None:
    """SIGTERM the command, SIGKILL it after STOP_GRACE seconds."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            child.kill()


def main(argv: list[str]) -> int:
    """Run the command; stop it when FD reaches end-of-file or this process is asked to stop; its exit code."""
    if len(argv) < 2 or not argv[0].isdigit():
        print("usage: python -m sandbox_app.processes.tether FD COMMAND [ARGS...]", file=sys.stderr)
        return 2
    watched = int(argv[0])
    child = subprocess.Popen(argv[1:], stdin=subprocess.DEVNULL)

    def parent_gone() -> None:
        while os.read(watched, 4096):  # nothing is ever written: only end-of-file ends the loop
            pass
        stop(child)

    threading.Thread(target=parent_gone, name="tether", daemon=True).start()
    for signum in (signal.SIGTERM, signal.SIGINT):  # a stop of the tether is a stop of the command
        signal.signal(signum, lambda received, _frame: child.send_signal(received))
    while True:
        try:
            return child.wait()
        except InterruptedError:  # a signal arrived during the wait: its handler ran; wait again
            continue


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The failure lessons as experiments: each runs on the sandbox, restores it, and returns what it counted."""

from .burst import limited_burst, plot_burst
from .crash import CONSUMER_STOPS, CrashResult, consumer_stops, crash_burst
from .late_reply import LateReply, SlowToConfirm, late_reply
from .unseen import UnseenFailures, temporary_failure, unseen_failures

__all__ = [
    "CONSUMER_STOPS", "CrashResult", "LateReply", "SlowToConfirm", "UnseenFailures", "consumer_stops", "crash_burst",
    "late_reply", "limited_burst", "plot_burst", "temporary_failure", "unseen_failures",
]  # fmt: skip

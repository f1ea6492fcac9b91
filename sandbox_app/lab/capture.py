"""The debug mail server's capture rate over one SMTP connection, against a bare aiosmtpd Sink in the same run."""

from __future__ import annotations

import smtplib
import time
from email.message import EmailMessage

from aiosmtpd.handlers import Sink

from ..examples import DEFAULT_EMAIL
from ..smtp.loopback import LOOPBACK, LoopbackController
from ..smtp.server import DebugMailServer


def sample_message() -> bytes:
    """A message like the ones the app sends."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = (
        "sandbox@example.com",
        DEFAULT_EMAIL["to"],
        DEFAULT_EMAIL["subject"],
    )
    message.set_content(DEFAULT_EMAIL["body"])
    return message.as_bytes()


def capture_rate_of(port: int, messages: int) -> float:
    """Messages per second one SMTP connection gets accepted by the server on `port`."""
    raw = sample_message()
    with smtplib.SMTP(LOOPBACK, port, timeout=10) as client:
        started = time.perf_counter()
        for _ in range(messages):
            client.sendmail("sandbox@example.com", [DEFAULT_EMAIL["to"]], raw)
        return messages / (time.perf_counter() - started)


def capture_rates(messages: int = 500, rounds: int = 3) -> dict:
    """The debug server's capture rate vs a bare aiosmtpd Sink, alternating, best of `rounds`."""
    best = {"sandbox": 0.0, "sink": 0.0}
    for _ in range(rounds):
        with DebugMailServer() as server:
            best["sandbox"] = max(best["sandbox"], capture_rate_of(server.port, messages))
        with LoopbackController(Sink()) as sink:
            best["sink"] = max(best["sink"], capture_rate_of(sink.port, messages))
    return {
        "sandbox_per_s": round(best["sandbox"]),
        "sink_per_s": round(best["sink"]),
        "ratio": round(best["sandbox"] / best["sink"], 2),
    }

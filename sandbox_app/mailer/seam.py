"""The seam around Flask-Mail: the one place that counts every send (delivered, failed) and clocks its SMTP time.

The taught patterns call `mail.send(msg)` (or, in bulk, `mail.connect()` and `conn.send(msg)`) and nothing
else: the counting happens here, beneath them. Flask-Mail's `email_dispatched` signal would not do: it fires
only after a successful send, and also when MAIL_SUPPRESS_SEND skipped the socket.

How a send finds its pattern: the route tags the message (`tag`, through `handing_over`) before the pattern
gets it. A context variable set in the request would not do: CPython does not copy contexts into a new
`threading.Thread`, and the threaded pattern sends from one. A queue's worker tags the message it rebuilt with
`tag(msg, pattern, queued=True)`, or its app is built with SENDS_FOR_QUEUE=<pattern> (every message it sends is
then tagged so, and the task the lesson shows needs no line for it): the seam counts its delivery, and the queue
counts its failures (a failure there may be retried). Any other untagged message (a learner's own exercise, a
lesson's experiment) is sent uncounted. Tags stay in this process: a message pickled onto a queue arrives untagged.

Why a subclass of the lesson-20 `SandboxMail` here, not changes to it: lesson 20 shows `SandboxMail` and
`TimeoutConnection` as the timeout fix a learner copies into their own app, and nothing else may be in them.
"""

from __future__ import annotations

import functools
import gc
import inspect
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from time import perf_counter

from flask import Flask, current_app, g, has_app_context, has_request_context
from flask_mail import Message

from .background import get_background
from .connection import SandboxMail, TimeoutConnection
from .outcomes import record_failure
from .stats import get_stats


@dataclass
class Tag:
    """What the seam knows of a tagged message: its pattern, who counts its failures, and whether it was sent."""

    pattern: str
    app: Flask | None
    queued: bool = False  # its queue counts its failures (retried or failed), the seam only its delivery
    outcome: str | None = None  # "delivered" or "failed" once Flask-Mail's send ended, or the pattern gave up


# Keyed by the message itself, held weakly: a tag goes when its message does (a pickled copy has none).
_tags: weakref.WeakKeyDictionary[Message, Tag] = weakref.WeakKeyDictionary()
_tags_lock = threading.Lock()


def tag(msg: Message, pattern: str, *, app: Flask | None = None, queued: bool = False) -> Message:
    """Mark `msg` as sent by `pattern`, so that sending it is counted; `queued`: its queue counts its failures."""
    with _tags_lock:
        _tags[msg] = Tag(pattern, app, queued)
    return msg


def tag_of(msg: Message) -> Tag | None:
    """The message's tag, None when it has none."""
    with _tags_lock:
        return _tags.get(msg)


def tag_for_sending(msg: Message) -> Tag | None:
    """The message's tag; untagged, a queue worker's (SENDS_FOR_QUEUE) counts it for its queue."""
    found = tag_of(msg)
    if found is None and has_app_context() and current_app.config.get("SENDS_FOR_QUEUE"):
        tag(msg, current_app.config["SENDS_FOR_QUEUE"], queued=True)
        found = tag_of(msg)
    return found


def handing_over(pattern: str, send_email: Callable) -> Callable:
    """A pattern's `send_email(app, msg)` as the route calls it: the message counted as accepted and tagged first.

    A message the pattern gives up on before Flask-Mail sends it (a full pool's 503) is counted as failed.
    """
    if inspect.iscoroutinefunction(send_email):

        @functools.wraps(send_email)
        async def hand_over_async(app: Flask, msg: Message):
            accept(app, msg, pattern)
            try:
                return await send_email(app, msg)
            except Exception as error:
                not_sent(msg, error)
                raise

        return hand_over_async

    @functools.wraps(send_email)
    def hand_over(app: Flask, msg: Message):
        accept(app, msg, pattern)
        try:
            return send_email(app, msg)
        except Exception as error:
            not_sent(msg, error)
            raise

    return hand_over


def accept(app: Flask, msg: Message, pattern: str) -> Message:
    """Count `msg` as accepted by `pattern`, and tag it so that its send is counted too."""
    get_stats(app).accepted(pattern)
    return tag(msg, pattern, app=app)


def not_sent(msg: Message, reason: BaseException | str) -> None:
    """A tagged message the pattern gave up on before Flask-Mail sent it: counted as failed, once."""
    found = tag_of(msg)
    if found is None or found.outcome is not None:
        return  # untagged, or the seam saw its send and counted it already
    found.outcome = "failed"
    record_failure(found.pattern, reason, found.app)


@contextmanager
def observed(msg: Message, *, sends: bool = True) -> Iterator[None]:
    """Clock the block as SMTP time and, for a tagged message, count it as delivered or failed.

    `sends` is False when MAIL_SUPPRESS_SEND skips the socket: nothing was delivered then.
    """
    found = tag_for_sending(msg)
    started = perf_counter()
    try:
        yield
    except Exception as error:
        if found is not None:
            found.outcome = "failed"
            if not found.queued:  # a queue's failure may be retried: the queue says which it was
                record_failure(found.pattern, error)
        raise
    else:
        if found is not None:
            found.outcome = "delivered"
            if sends:
                get_stats().delivered(found.pattern)
    finally:
        add_smtp_time(perf_counter() - started)


def add_smtp_time(seconds: float) -> None:
    """Add to this request's SMTP time (Server-Timing shows it); a background send has no request."""
    # A thread with only an app context (a background send) has a g of its own and no request: nothing to
    # add, which is the point of sending in the background. An awaited send (asyncio.to_thread) copied the
    # request's context, and adds to its time.
    if has_request_context():
        g.smtp_seconds = smtp_seconds() + seconds


def smtp_seconds() -> float:
    """Seconds this request has waited for the mail server so far."""
    return g.get("smtp_seconds", 0.0) if has_app_context() else 0.0


class ObservedConnection(TimeoutConnection):
    """The connection `mail.connect()` opens (bulk): dialling, each `send` and the goodbye clocked; each send counted."""

    def __enter__(self) -> ObservedConnection:
        started = perf_counter()
        try:
            return super().__enter__()  # connect, EHLO, login: a refusal raises here, before any message
        finally:
            add_smtp_time(perf_counter() - started)

    def __exit__(self, *exc_info) -> None:
        started = perf_counter()
        try:
            super().__exit__(*exc_info)
        finally:
            add_smtp_time(perf_counter() - started)

    def send(self, message: Message, envelope_from=None) -> None:
        with observed(message, sends=self.host is not None):
            super().send(message, envelope_from)


class ObservedMail(SandboxMail):
    """The sandbox's `mail`: lesson 20's SandboxMail, its sends seen by the seam."""

    def connect(self) -> ObservedConnection:
        plain = super().connect()
        return ObservedConnection(plain.mail, plain.timeout)

    def send(self, message: Message) -> None:
        """Flask-Mail's `send` (dial, send, goodbye), counted and clocked as one: a refused connection counts too."""
        connection = super().connect()  # the plain connection (not dialled yet): this send is observed as a whole
        with observed(message, sends=not connection.mail.suppress), connection:
            message.send(connection)


mail = ObservedMail()


def wait_for_sends(app: Flask, timeout: float) -> None:
    """Wait (up to `timeout` s) until every message handed to a pattern of `app` in this process was sent or let go.

    A message still held (by a thread that has not sent it yet, or a pool's queue) is waiting to be sent;
    one dropped unsent (a task its view never awaited) no longer exists. So stopping the app needs no list of
    the threads the patterns started.
    """
    deadline = time.monotonic() + timeout
    collected = 0.0
    while time.monotonic() < deadline:
        with _tags_lock:
            pending = any(t.app is app and t.outcome is None for t in _tags.values())
        if not pending:
            return
        if time.monotonic() - collected > 0.5:  # a message dropped inside a reference cycle goes at a collection
            gc.collect()
            collected = time.monotonic()
        time.sleep(0.01)


def init_seam(app: Flask) -> None:
    """Make the app's stop wait for the sends its patterns still hold."""
    get_background(app).wait_for(functools.partial(wait_for_sends, app))

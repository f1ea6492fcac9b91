"""The debug mail server: real SMTP on loopback (aiosmtpd) that captures and never relays."""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, TLSSetupException

from ..addresses import SMTP_USER
from .loopback import LOOPBACK, LoopbackController
from .settings import Fault, MailServerSettings
from .store import CapturedMessage, MessageStore
from .tls import SelfSignedTLS

TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections, try again later"
AUTH_REQUIRED = "530 5.7.0 Authentication required"


class _WithoutLoginDataNotice(logging.Filter):
    """Lines aiosmtpd logs that are not the learner's concern: a deprecation notice on every successful AUTH,
    and the traceback of a client that refused the sandbox's self-signed certificate (as a careful client must)."""

    def filter(self, record: logging.LogRecord) -> bool:
        refused_certificate = record.exc_info is not None and isinstance(record.exc_info[1], TLSSetupException)
        return "login_data is deprecated" not in record.getMessage() and not refused_certificate


# Without a handler, that warning would reach stderr, and a notebook cell's output with it.
logging.getLogger("mail.log").addFilter(_WithoutLoginDataNotice())


class CaptureHandler:
    """aiosmtpd handler: applies the live delay and faults, then captures the message."""

    def __init__(self, server: DebugMailServer) -> None:
        self.server = server

    async def handle_MAIL(self, smtp, session, envelope, address, mail_options):
        """Accept the envelope sender from a logged-in client unless a MAIL fault fires."""
        if self.server.key is not None and not session.authenticated:
            return AUTH_REQUIRED  # nothing from this client is captured
        reply = await self.server.inject_fault("MAIL", smtp)
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        """Accept any recipient (nothing is relayed) unless a RCPT fault fires for it."""
        reply = await self.server.inject_fault("RCPT", smtp, address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        """Wait while the server is held and the configured delay, then capture unless a DATA fault fires."""
        await self.server.pass_gate()
        if not self.server.running:  # released by stop(): the client hears a refusal, never a 250
            return "421 4.3.2 The server is stopping"
        await asyncio.sleep(self.server.message_delay())
        reply = await self.server.inject_fault("DATA", smtp)
        if reply:
            return reply
        raw = envelope.original_content or envelope.content
        message_id = self.server.store.add(envelope.mail_from, envelope.rcpt_tos, raw)
        return f"250 Message {message_id} captured (the sandbox never relays)"


class SandboxSMTP(SMTP):
    """aiosmtpd's SMTP session plus the sandbox's connection limit and connect delay."""

    def __init__(self, handler: CaptureHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._mail_server = handler.server
        self._admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        starting = self.transport is None  # not the STARTTLS re-entry
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # The multi-line EHLO reply goes out line by line: with Nagle's algorithm each line
            # after the first waits for the client's delayed ACK, ~40 ms per connection on Linux.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        if starting:
            self._admitted = self._mail_server.admit(self)

    async def push(self, status) -> None:
        """Send a reply line; its last line waits `reply_delay` first, one round trip per command."""
        delay = self._mail_server.settings.reply_delay
        line = status if isinstance(status, str) else status.decode("ascii", "replace")
        if delay and line[3:4] != "-":  # "250-..." lines continue a reply: the client has not heard it all yet
            await asyncio.sleep(delay)
        await super().push(status)

    def connection_lost(self, error: Exception | None) -> None:
        if self._admitted:
            self._mail_server.forget(self)
            self._admitted = False
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        if not self._admitted:
            await self.push(TOO_MANY_CONNECTIONS)
            self.transport.close()
            return
        delay = self._mail_server.settings.connect_delay
        if delay:
            try:
                await asyncio.sleep(delay)  # a slow greeting: what connection reuse saves
            except asyncio.CancelledError:
                # The client hung up before its greeting (aiosmtpd cancels us on EOF). Close as aiosmtpd does
                # itself, or the session stays open, counted against max_connections, until its 5-minute timeout.
                self._writer.close()
                raise
        await super()._handle_client()


class SandboxController(LoopbackController):
    """The debug mail server's controller: SandboxSMTP sessions, with the live TLS setting."""

    def factory(self) -> SandboxSMTP:
        return SandboxSMTP(self.handler, **self.SMTP_kwargs, **self.handler.server.tls_options())


class DebugMailServer:
    """A real SMTP server on 127.0.0.1 that captures mail and can be slow or faulty on purpose."""

    def __init__(
        self,
        port: int = 0,
        *,
        maildir: str | Path | None = None,
        key: str | None = None,
        **settings: Any,
    ) -> None:
        self.host = LOOPBACK  # never reachable from other machines: it must not become a relay
        self.key = key  # the password of SMTP AUTH (user "sandbox"); None lets any local client send
        self.requested_port = port
        self.port: int | None = None
        self._settings = MailServerSettings().updated(settings)
        self.store = MessageStore(maildir, self._settings.max_messages)
        self._random = random.Random(self._settings.seed)
        self._sessions: set[SandboxSMTP] = set()
        self._counters = self._zero_counters()
        self._controller: SandboxController | None = None
        self._tls: SelfSignedTLS | None = None  # made on first use: most lessons never turn TLS on
        self._lock = threading.Lock()
        self._gate: asyncio.Event | None = None  # set while held: DATA waits for it
        self._waiting_at_gate = 0

    # -- lifecycle -------------------------------------------------------
    def start(self) -> DebugMailServer:
        """Listen on the loopback port (a free one when port is 0); return self."""
        if self._controller is not None:
            return self
        listener = socket.create_server((self.host, self.requested_port))  # a taken port fails at once
        port = listener.getsockname()[1]
        controller = SandboxController(
            CaptureHandler(self),
            listener=listener,
            # AUTH PLAIN and LOGIN without TLS: client and server share this machine's loopback, and the key
            # only keeps other accounts out. handle_MAIL refuses the unauthenticated (aiosmtpd's own
            # auth_required would warn on every connection that TLS is off).
            auth_require_tls=False,
            authenticator=self._authenticate,
            ready_timeout=10.0,
        )
        try:
            controller.start()
        except BaseException:
            listener.close()
            raise
        self._controller, self.port = controller, port
        # aiosmtpd's start-up probe has hung up, but its session may not have closed yet: wait, so that
        # open_connections counts only real clients from here on.
        deadline = time.monotonic() + 2.0
        while self._sessions and time.monotonic() < deadline:
            time.sleep(0.005)
        self.reset_counters()  # forget the probe's connection
        return self

    def _authenticate(self, server, session, envelope, mechanism: str, auth_data) -> AuthResult:
        """aiosmtpd's authenticator: user "sandbox" with the key as password."""
        if self.key is None:
            return AuthResult(success=True)
        valid = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == SMTP_USER.encode()
            and hmac.compare_digest(auth_data.password, self.key.encode())
        )
        return AuthResult(success=valid, handled=False)

    def stop(self) -> None:
        """Close every session, stop listening and end the server's thread."""
        controller, self._controller = self._controller, None
        if controller is None:
            return
        self._open_gate(self._take_gate(), controller.loop)  # a held message must not keep its client waiting
        # Close sessions first: newer Pythons wait for open connections on shutdown.
        controller.loop.call_soon_threadsafe(self._abort_sessions)
        controller.stop()

    def _abort_sessions(self) -> None:
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.abort()

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._controller is not None

    @property
    def address(self) -> str:
        """host:port, as an SMTP client dials it."""
        return f"{self.host}:{self.port}"

    @property
    def login(self) -> tuple[str, str] | None:
        """(user, password) of SMTP AUTH, or None when any local client may send."""
        return (SMTP_USER, self.key) if self.key else None

    def __enter__(self) -> DebugMailServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"listening on {self.address}" if self.running else "stopped"
        return f"<DebugMailServer {state}, {self.store.total} message(s) captured, {len(self.store)} held>"

    # -- settings --------------------------------------------------------
    @property
    def settings(self) -> MailServerSettings:
        """The current settings (an immutable snapshot)."""
        return self._settings

    def configure(self, **changes: Any) -> MailServerSettings:
        """Change settings while running, e.g. configure(delay=0.3); returns the new settings."""
        with self._lock:
            new = self._settings.updated(changes)
            if "seed" in changes or "faults" in changes or "delay_range" in changes:
                self._random = random.Random(new.seed)  # a reproducible run starts here
            if "max_messages" in changes:
                self.store.max_messages = new.max_messages  # lowering it drops the oldest at once
            self._settings = new
            return new

    def message_delay(self) -> float:
        """Seconds to wait before answering DATA: fixed, or drawn from the seeded range."""
        settings = self._settings
        if settings.delay_range:
            return self._random.uniform(*settings.delay_range)
        return settings.delay

    async def inject_fault(self, stage: str, smtp: SandboxSMTP, address: str | None = None) -> str | None:
        """The fault reply for this stage (and recipient) when its fault fires, else None; may drop the line."""
        fault: Fault | None = self._settings.faults.get(stage)
        if fault is None or not fault.applies_to(address) or self._random.random() >= fault.probability:
            return None
        self._counters["faults"][stage] = self._counters["faults"].get(stage, 0) + 1
        if fault.drop:
            self._counters["dropped"] += 1
            smtp.transport.abort()
            await asyncio.Event().wait()  # cancelled by connection_lost; no reply is sent
        return fault.reply(stage)

    def tls_options(self) -> dict[str, Any]:
        """A new session's TLS options: STARTTLS offered and required while the `starttls` setting is on."""
        if not self._settings.starttls:
            return {}
        with self._lock:
            if self._tls is None:
                self._tls = SelfSignedTLS()
        return {"tls_context": self._tls.server_context, "require_starttls": True}

    # -- the gate --------------------------------------------------------
    def hold(self) -> None:
        """Keep every message unanswered at DATA until `release()` or `stop()`, however fast the machine is.

        A test of "answered before the mail arrived" holds the server instead of slowing it: a timed delay
        can run out on a stalled machine before the test looks.
        """
        with self._lock:
            if self._gate is None:
                self._gate = asyncio.Event()

    def release(self) -> None:
        """Let every held message (and every later one) through."""
        controller = self._controller
        self._open_gate(self._take_gate(), controller.loop if controller else None)

    @contextmanager
    def holding(self) -> Iterator[DebugMailServer]:
        """`with server.holding():` hold the mail, and let it through on leaving the block, failed or not."""
        self.hold()
        try:
            yield self
        finally:
            self.release()

    @property
    def held(self) -> bool:
        """Whether messages wait at DATA for `release()`."""
        return self._gate is not None

    async def pass_gate(self) -> None:
        """Return at once, or when the server is released while held (on the server's loop)."""
        gate = self._gate
        if gate is None:
            return
        self._waiting_at_gate += 1
        try:
            await gate.wait()
        finally:
            self._waiting_at_gate -= 1

    @property
    def waiting_at_gate(self) -> int:
        """How many messages wait at DATA for `release()` now."""
        return self._waiting_at_gate

    def _take_gate(self) -> asyncio.Event | None:
        with self._lock:
            gate, self._gate = self._gate, None
            return gate

    @staticmethod
    def _open_gate(gate: asyncio.Event | None, loop: asyncio.AbstractEventLoop | None) -> None:
        if gate is None:
            return
        if loop is None:
            gate.set()
        else:
            loop.call_soon_threadsafe(gate.set)  # an asyncio.Event is set on its own loop's thread

    # -- connections -----------------------------------------------------
    def admit(self, session: SandboxSMTP) -> bool:
        """Count a new connection; False when it is over the limit (it will get 421)."""
        limit = self._settings.max_connections
        if limit is not None and len(self._sessions) >= limit:
            self._counters["refused"] += 1
            return False
        self._sessions.add(session)
        self._counters["connections"] += 1
        self._counters["peak_connections"] = max(self._counters["peak_connections"], len(self._sessions))
        return True

    def forget(self, session: SandboxSMTP) -> None:
        """Forget a closed connection."""
        self._sessions.discard(session)

    @staticmethod
    def _zero_counters() -> dict[str, Any]:
        return {"connections": 0, "refused": 0, "peak_connections": 0, "dropped": 0, "faults": {}}

    def reset_counters(self) -> None:
        """Start counting connections and faults from zero."""
        self._counters = self._zero_counters()

    def counters(self) -> dict[str, Any]:
        """Connections accepted, refused with 421, open now and at peak; faults fired per stage."""
        counters = dict(self._counters, faults=dict(self._counters["faults"]))
        counters["open_connections"] = len(self._sessions)
        return counters

    # -- the inbox -------------------------------------------------------
    @property
    def messages(self) -> list[CapturedMessage]:
        """The messages held (the newest `max_messages`), oldest first."""
        return self.store.all()

    def newest(self, limit: int | None = None) -> list[CapturedMessage]:
        """The newest `limit` messages held (all when None), newest first."""
        return self.store.newest(limit)

    @property
    def count(self) -> int:
        """Messages held now (at most `max_messages`)."""
        return self.store.count

    @property
    def total(self) -> int:
        """Messages captured since the start or the last clear, including those no longer held."""
        return self.store.total

    def wait_for(self, count: int, timeout: float = 10.0) -> list[CapturedMessage]:
        """Wait until `count` messages were captured in total; return those held, oldest first.

        Raises TimeoutError with the total seen.
        """
        return self.store.wait_for(count, timeout)

    def clear(self) -> int:
        """Empty the inbox and restart the total; return how many messages it held."""
        return self.store.clear()

"""A sandbox's settings, resolved once from arguments, the environment and defaults: `SandboxConfig.resolve(...)`."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .processes.servers import DEFAULT_WORKERS, IN_PROCESS, check_server
from .smtp.loopback import LOOPBACK
from .smtp.server import SMTP_USER

KEY_ENV = "SANDBOX_KEY"  # a fixed key, for tools and tests
OPEN_ENV = "SANDBOX_OPEN"  # "1": no key and no SMTP AUTH, for a laptop that wants plain URLs
SMTP_PASSWORD_ENV = "SANDBOX_SMTP_PASSWORD"  # the login to an outside --smtp-server (user "sandbox")
KEY_CHARACTERS = "-_"  # besides letters and digits: a key travels in a URL, a header and an SMTP password


def check_key(key: str) -> str:
    """The key if it can travel in a URL, a header and an SMTP password; ValueError saying why not."""
    if not 8 <= len(key) <= 128 or not all(c.isalnum() or c in KEY_CHARACTERS for c in key):
        raise ValueError("a key is 8 to 128 letters, digits, '-' or '_'")
    return key


def parse_smtp_address(text: str) -> tuple[str, int]:
    """("host", port) from "host:port"; ValueError says what is wrong."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise ValueError(f"expected host:port with a port from 1 to 65535, got {text!r}")
    return host, int(port)


@dataclass(frozen=True)
class SandboxConfig:
    """Everything a sandbox needs to start, decided: build it with `SandboxConfig.resolve(...)`.

    `key` is None for an open sandbox. `smtp_server` is an outside "host:port" to send to, or None for the
    debug mail server on `smtp_port` (0: any free port). `server` runs the app in this process or in its own
    under waitress or gunicorn, with `workers` threads or processes. `app_config` holds further Flask settings.
    """

    host: str = LOOPBACK
    port: int = 0
    smtp_port: int = 0
    smtp_delay: float = 0.0
    smtp_server: str | None = None
    smtp_password: str | None = None
    key: str | None = None
    server: str = IN_PROCESS
    workers: int = DEFAULT_WORKERS[IN_PROCESS]
    queue_url: str | None = None
    queue_name: str | None = None
    echo_log: bool = False
    app_config: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def resolve(
        cls,
        *,
        key: str | None = None,
        open: bool | None = None,
        smtp_password: str | None = None,
        smtp_delay: float | None = None,
        workers: int | None = None,
        server: str = IN_PROCESS,
        environ: Mapping[str, str] | None = None,
        **settings: Any,
    ) -> SandboxConfig:
        """The settings given, completed from the environment ($SANDBOX_KEY, $SANDBOX_OPEN, ...) and defaults.

        The key is `key`, else $SANDBOX_KEY, else a random one; `open=True` (or $SANDBOX_OPEN=1) means none.
        ValueError says what does not fit together.
        """
        environ = os.environ if environ is None else environ
        if open is None:
            open = environ.get(OPEN_ENV) == "1"
        key = None if open else check_key(key or environ.get(KEY_ENV) or secrets.token_urlsafe(18))
        if settings.get("smtp_server") is not None:
            parse_smtp_address(settings["smtp_server"])
            if smtp_delay is not None or settings.get("smtp_port"):
                raise ValueError(
                    "smtp_delay and smtp_port set the debug mail server; an outside smtp_server has its own"
                )
            smtp_password = smtp_password or environ.get(SMTP_PASSWORD_ENV)
        check_server(server)
        return cls(
            key=key,
            smtp_password=smtp_password,
            smtp_delay=smtp_delay or 0.0,
            server=server,
            workers=workers or DEFAULT_WORKERS[server],
            **settings,
        )

    @property
    def open(self) -> bool:
        """Whether anyone on this machine may use the sandbox: no key, no SMTP login."""
        return self.key is None

    @property
    def in_process(self) -> bool:
        """Whether the app runs in this process's threads."""
        return self.server == IN_PROCESS

    @property
    def debug_mail_server(self) -> bool:
        """Whether the sandbox starts its own debug mail server (else it sends to `smtp_server`)."""
        return self.smtp_server is None

    def with_changes(self, **changes: Any) -> SandboxConfig:
        """A copy with some settings changed."""
        return replace(self, **changes)

    def flask_config(self, mail_port: int | None = None) -> dict[str, Any]:
        """The Flask settings of the app: the key, where it sends mail and how it logs in, its queue.

        `mail_port` is the debug mail server's port once it listens (the config may have asked for any free one).
        """
        config: dict[str, Any] = {"SANDBOX_KEY": self.key}
        if self.debug_mail_server:
            config.update(MAIL_SERVER=LOOPBACK, MAIL_PORT=mail_port or self.smtp_port)
            login = self.key
        else:
            host, port = parse_smtp_address(self.smtp_server)
            config.update(MAIL_SERVER=host, MAIL_PORT=port)
            login = self.smtp_password
        if login:
            config.update(MAIL_USERNAME=SMTP_USER, MAIL_PASSWORD=login)
        if self.queue_url:
            config["QUEUE_URL"] = self.queue_url
        if self.queue_name:
            config["QUEUE_NAME"] = self.queue_name
        return {**config, **self.app_config}

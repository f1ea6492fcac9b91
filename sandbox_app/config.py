"""A sandbox's settings, resolved once from arguments, the environment and defaults: `SandboxConfig.resolve(...)`.

The same object reaches every child process: `to_json()` in the launcher (`processes.env.settings_env`
puts it in the child's environment), `SandboxConfig.from_env()` in the child.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from .addresses import LOOPBACK, SMTP_USER
from .processes.env import InvalidSettings, settings_json
from .processes.servers import DEFAULT_WORKERS, IN_PROCESS, check_server

if TYPE_CHECKING:  # a worker reads its settings without loading Flask or the mail server (RQ's scheduler)
    from flask import Flask

SETTINGS_EXTENSION = "sandbox_settings"  # where an app keeps the settings it was built from, in app.extensions
KEY_ENV = "SANDBOX_KEY"  # a fixed key, for tools and tests
OPEN_ENV = "SANDBOX_OPEN"  # "1": no key and no SMTP AUTH, for a laptop that wants plain URLs
SMTP_PASSWORD_ENV = "SANDBOX_SMTP_PASSWORD"  # the login to an outside --smtp-server (user "sandbox")
DATABASE_URL_ENV = "SANDBOX_DATABASE_URL"  # the users' and the outbox's database, for a kernel's sandbox too
KEY_CHARACTERS = "-_"  # besides letters and digits: a key travels in a URL, a header and an SMTP password


def check_key(key: str) -> str:
    """The key if it can travel in a URL, a header and an SMTP password; ValueError saying why not."""
    if not 8 <= len(key) <= 128 or not all(c.isalnum() or c in KEY_CHARACTERS for c in key):
        raise ValueError("a key is 8 to 128 letters, digits, '-' or '_'")
    return key


def check_database_url(text: str) -> str:
    """The database URL SQLAlchemy is given: sqlite:///FILE, or postgresql://... (run with psycopg 3).

    ValueError says in one line what is wrong: the form, the driver, or psycopg missing.
    """
    from sqlalchemy.engine import make_url  # a child that reads its settings without a database never loads it
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        raise ValueError(f"not a database URL (sqlite:///FILE or postgresql://USER@HOST/DB): {text!r}") from None
    backend, _, driver = url.drivername.partition("+")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        if find_spec("psycopg") is None:
            raise ValueError("a postgresql:// URL needs psycopg 3: pip install 'psycopg[binary]'")
        if not url.database:
            raise ValueError(f"the PostgreSQL URL names no database: {url.render_as_string()!r}")
        # SQLAlchemy's default driver for postgresql:// is psycopg2; this course installs psycopg 3.
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite" and driver in ("", "pysqlite"):
        if url.database in (None, "", ":memory:"):
            raise ValueError("an in-memory SQLite database is not shared with the workers: give a file, sqlite:///FILE")
        return url.render_as_string(hide_password=False)
    raise ValueError(
        f"the database is SQLite (sqlite:///FILE) or PostgreSQL (postgresql://...), not {url.drivername!r}"
    )


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
        under waitress or gunicorn, with `workers` threads or processes. `database_url` is the database the app
    and its workers share (SQLite or PostgreSQL), or None for a SQLite file made in the state folder. `app_config` holds further Flask settings
        (a queue backend keeps its own settings there, under names it owns).

        Decided when the sandbox starts, for its child processes: `smtp_port` is then the debug mail server's
        actual port, `database_url` the database every process uses, `stats_path` the counters file every process counts into, `queue_name` the queue they
        share, and `launcher_port` with `launcher_authkey` the launcher's private channel (`processes.channel`).
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
    database_url: str | None = None
    queue_name: str | None = None
    echo_log: bool = False
    stats_path: str | None = None
    launcher_port: int | None = None
    launcher_authkey: str | None = None
    app_config: Mapping[str, Any] = field(default_factory=dict)

    __pydantic_config__ = {"extra": "forbid"}  # from_json: a misspelt field is an error, not ignored

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
        The database is `database_url`, else $SANDBOX_DATABASE_URL, else a SQLite file of the sandbox's own.
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
        if settings.get("database_url") is None and environ.get(DATABASE_URL_ENV):
            settings["database_url"] = environ[DATABASE_URL_ENV]
        if settings.get("database_url") is not None:
            settings["database_url"] = check_database_url(settings["database_url"])
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

    def with_app_config(self, overrides: Mapping[str, Any]) -> SandboxConfig:
        """A copy with further Flask settings on top of `app_config` (one child's, e.g. a worker's)."""
        return replace(self, app_config={**self.app_config, **overrides})

    def to_json(self) -> str:
        """The settings as JSON, for a child process (`from_json` reads them back)."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SandboxConfig:
        """The settings `to_json()` wrote; InvalidSettings naming the field when the text does not fit."""
        from pydantic import TypeAdapter, ValidationError  # a child's need only: not the kernel's

        try:
            settings = TypeAdapter(cls).validate_json(text)
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"]) or "the settings"
            raise InvalidSettings(f"settings: {where}: {problem['msg']}") from None
        try:
            check_server(settings.server)
            if settings.key is not None:
                check_key(settings.key)
        except ValueError as error:
            raise InvalidSettings(f"settings: {error}") from None
        return settings

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SandboxConfig:
        """In a child: the settings its launcher passed (`processes.env.settings_env`); InvalidSettings if none."""
        return cls.from_json(settings_json(environ))

    def flask_config(self) -> dict[str, Any]:
        """The Flask settings of the app: the key, where it sends mail and how it logs in, its queue, its counters."""
        config: dict[str, Any] = {"SANDBOX_KEY": self.key}
        if self.debug_mail_server:
            config.update(MAIL_SERVER=LOOPBACK, MAIL_PORT=self.smtp_port)
            login = self.key
        else:
            host, port = parse_smtp_address(self.smtp_server)
            config.update(MAIL_SERVER=host, MAIL_PORT=port)
            login = self.smtp_password
        if login:
            config.update(MAIL_USERNAME=SMTP_USER, MAIL_PASSWORD=login)
        if self.queue_url:
            config["QUEUE_URL"] = self.queue_url
        if self.database_url:
            config["SQLALCHEMY_DATABASE_URI"] = self.database_url
        if self.queue_name:
            config["QUEUE_NAME"] = self.queue_name
        if self.stats_path:
            config["STATS_PATH"] = self.stats_path
        return {**config, **self.app_config}


def get_settings(app: Flask | None = None) -> SandboxConfig:
    """The settings an app was built from (the current app's when none is given): what its child processes get."""
    from flask import current_app

    return (app or current_app).extensions[SETTINGS_EXTENSION]

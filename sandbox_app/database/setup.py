"""The app's database: its URL (given, or a SQLite file made in the state folder), its engine's settings, its tables."""

from __future__ import annotations

import os
import weakref

from flask import Flask
from sqlalchemy.engine import Engine, make_url

from ..mailer.background import get_background
from ..paths import remove_sqlite_database
from .gate import init_gate
from .guard import init_guard
from .models import db
from .relays import get_relays, init_relays
from .sqlite import connect_args, made_up_sqlite_url, wal_on_connect

_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def _forget_connections_after_fork() -> None:
    """In a forked child (an RQ work horse, a gunicorn worker): new connections, never the parent's sockets."""
    for engine in list(_engines):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_connections_after_fork)


def init_database(app: Flask) -> None:
    """Give the app its database (the settings' URL, else a SQLite file it makes and removes when it stops), with tables.

    Every process the app starts (a worker, the relay, a server's) is given app.config["SQLALCHEMY_DATABASE_URI"] as
    its settings' `database_url`, as it is given the counters file.
    """
    url = app.config.get("SQLALCHEMY_DATABASE_URI")
    made_here = not url
    if made_here:
        url = app.config["SQLALCHEMY_DATABASE_URI"] = made_up_sqlite_url()
    sqlite = make_url(url).get_backend_name() == "sqlite"
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": connect_args()} if sqlite else {})
    db.init_app(app)
    with app.app_context():
        if sqlite:
            wal_on_connect(db.engine)
        db.create_all()  # leaves a connection in the engine's pool
        _engines.add(db.engine)
        # An app nobody stopped (a test's, a notebook's) still closes its pooled connections when it is collected:
        # Python 3.13 warns about a SQLite connection left to the garbage collector, and the suite makes it an error.
        weakref.finalize(app, db.engine.dispose)
    init_gate(app)
    init_guard(app)
    init_relays(app)
    get_background(app).on_stop(lambda: close_database(app, remove=made_here))


def close_database(app: Flask, *, remove: bool) -> None:
    """Stop the outbox relays, close the app's connections; remove its SQLite file if it made it."""
    get_relays(app).close()
    with app.app_context():
        url = db.engine.url
        db.engine.dispose()
    if remove:
        remove_sqlite_database(url.database)

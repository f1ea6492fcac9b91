"""The SQLite writers' turns (database.sqlite.OneWriterAtATime): a process's threads take turns on a lock for their
write transactions, instead of sleeping in SQLite's busy handler; on a real SQLite file."""

from __future__ import annotations

import os
import sqlite3
import threading
import warnings

import pytest

from sandbox_app import create_app
from sandbox_app.database import db
from sandbox_app.database import sqlite as sqlite_database
from sandbox_app.database.sqlite import OneWriterAtATime
from sandbox_app.mailer.background import get_background


@pytest.fixture
def database(tmp_path):
    """A SQLite file in WAL mode with a table of unique names; its path."""
    path = tmp_path / "turns.sqlite3"
    with sqlite3.connect(path) as setup:
        setup.execute("pragma journal_mode=wal")
        setup.execute("create table people (name text unique)")
    setup.close()
    return path


@pytest.fixture
def connect(database):
    """connect(timeout=5): a connection taking turns on `database`, closed after the test."""
    opened = []

    def connect(timeout: float = 5.0) -> OneWriterAtATime:
        connection = sqlite3.connect(database, timeout=timeout, factory=OneWriterAtATime, check_same_thread=False)
        opened.append(connection)
        return connection

    yield connect
    for connection in opened:
        connection.close()


def test_a_second_writer_waits_for_the_turn_and_writes_once_the_first_has_committed(connect):
    first, second = connect(), connect()
    first.execute("insert into people values ('ada')")  # the turn is first's until its COMMIT
    turn = sqlite_database._turns.lock(first_path(first))
    assert turn.locked()
    wrote = threading.Event()
    writer = threading.Thread(target=lambda: (second.execute("insert into people values ('bob')"), wrote.set()))
    writer.start()
    assert not wrote.wait(0.2)  # waiting for the turn, not written
    first.commit()
    writer.join(5)
    assert wrote.is_set() and turn.locked()  # second's turn now, its transaction open
    second.commit()
    assert not turn.locked()
    assert sorted(name for (name,) in first.execute("select name from people")) == ["ada", "bob"]


def test_reads_take_no_turn_and_a_refused_write_keeps_it_until_the_rollback(connect):
    connection = connect()
    connection.execute("insert into people values ('ada')")
    connection.commit()
    turn = sqlite_database._turns.lock(first_path(connection))
    assert connection.execute("select count(*) from people").fetchone() == (1,) and not turn.locked()
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute("insert into people values ('ada')")
    assert turn.locked()  # the transaction is open: no other thread writes until it ends
    connection.rollback()
    assert not turn.locked()


def test_a_turn_that_does_not_come_is_sqlites_database_is_locked(connect):
    holder, late = connect(), connect(timeout=0.1)
    holder.execute("insert into people values ('ada')")
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        late.execute("insert into people values ('bob')")
    assert not late.in_transaction
    holder.rollback()
    late.execute("insert into people values ('bob')")  # its turn now
    late.commit()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is Unix's")
def test_a_forked_child_does_not_inherit_a_turn_held_in_its_parent(connect):
    holder = connect()
    holder.execute("insert into people values ('ada')")
    read, write = os.pipe()
    with warnings.catch_warnings():  # Python 3.12+ warns of a fork beside threads: the child only writes and exits
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: a turn held by its parent's thread would never be released here
        os.write(write, b"held" if sqlite_database._turns.lock(first_path(holder)).locked() else b"free")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 4)
    os.close(read)
    os.waitpid(pid, 0)
    holder.rollback()
    assert answer == b"free"


def test_the_apps_sqlite_connections_take_turns(mail_server):
    app = create_app({}, mail_server=mail_server)  # its SQLite file, made in the state folder
    try:
        with app.app_context():
            connection = db.engine.raw_connection()
            try:
                assert isinstance(connection.dbapi_connection, OneWriterAtATime)
            finally:
                connection.close()
    finally:
        get_background(app).finish(timeout=10)


def first_path(connection: sqlite3.Connection) -> str:
    """The file a connection opened (its main database)."""
    return connection.execute("pragma database_list").fetchone()[2]

"""on_commit: callbacks kept in session.info, run once after COMMIT, dropped by a rollback (soft or real)."""

from __future__ import annotations

import pytest
from database_fixtures import database_url, postgresql_database  # noqa: F401 (fixtures)
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from sandbox_app import create_app
from sandbox_app.database import User, db
from sandbox_app.mailer.background import get_background
from sandbox_app.patterns.signup.on_commit import CALLBACKS, on_commit


@pytest.fixture
def db_app(database_url):  # noqa: F811
    """An app on the test's database, in an app context; stopped after the test."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url} if database_url else {})
    with app.app_context():
        yield app
    get_background(app).finish(timeout=10)


def count_users() -> int:
    """The users committed, as another connection (a worker) sees them."""
    with db.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(User))


def test_a_callback_runs_once_after_the_commit(db_app):
    ran = []
    db.session.add(User(email="a@example.com", name="A"))
    # It may emit no SQL on the session (SQLAlchemy says so): another connection sees the committed user.
    on_commit(lambda: ran.append(count_users()))
    assert ran == []
    db.session.commit()
    assert ran == [1]
    db.session.commit()  # the next transaction: nothing left to run
    assert ran == [1] and CALLBACKS not in db.session.info


def test_a_rollback_drops_the_callbacks(db_app):
    ran = []
    db.session.add(User(email="a@example.com", name="A"))
    on_commit(lambda: ran.append("sent"))
    db.session.rollback()
    db.session.commit()
    assert ran == [] and CALLBACKS not in db.session.info


def test_a_failed_flush_and_its_soft_rollback_drop_the_callbacks(db_app):
    db.session.add(User(email="a@example.com", name="A"))
    db.session.commit()
    ran = []
    db.session.add(User(email="a@example.com", name="again"))
    on_commit(lambda: ran.append("sent"))
    with pytest.raises(IntegrityError):
        db.session.flush()  # the database rolled back already; the session's rollback() below is a soft one
    db.session.rollback()
    db.session.commit()
    assert ran == []


def test_a_savepoint_rollback_keeps_the_outer_callbacks(db_app):
    ran = []
    db.session.add(User(email="a@example.com", name="A"))
    on_commit(lambda: ran.append("outer"))
    with db.session.begin_nested() as savepoint:
        db.session.add(User(email="b@example.com", name="B"))
        savepoint.rollback()
    db.session.commit()
    assert ran == ["outer"]
    assert [user.email for user in db.session.query(User)] == ["a@example.com"]

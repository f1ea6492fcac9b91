"""Fixtures for the sign-up tests: the database a sandbox uses, SQLite (embedded) or PostgreSQL (SANDBOX_TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from helpers import missing
from sqlalchemy.engine import make_url

DATABASE_ENV = "SANDBOX_TEST_DATABASE_URL"
POSTGRESQL_HINT = (
    f"set {DATABASE_ENV}=postgresql+psycopg://USER:PASSWORD@127.0.0.1/DB (a role that may create schemas; "
    ".ci/run starts PostgreSQL with pg_ctlcluster and sets it)"
)


def postgresql_url() -> str:
    """The PostgreSQL the tests may use; the test is skipped (or fails, when every test must run) without one."""
    url = os.environ.get(DATABASE_ENV)
    if not url:
        missing(f"no PostgreSQL for the tests: {DATABASE_ENV} is not set", POSTGRESQL_HINT)
    return url


@contextmanager
def postgresql_schema() -> Iterator[str]:
    """A schema of its own in the tests' PostgreSQL, dropped at the end: the URL to give a sandbox."""
    url = make_url(postgresql_url())
    schema = f"test_{secrets.token_hex(6)}"
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f"create schema {schema}")
    try:
        yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(f"drop schema {schema} cascade")


@pytest.fixture
def postgresql_database():
    """A schema of this test's own in the tests' PostgreSQL (dropped after): the URL to give the sandbox."""
    with postgresql_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    """Each test twice: on the sandbox's SQLite file (None: the default) and on PostgreSQL (skipped without one)."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgresql_database")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database_url(request):
    """As `database_url`, for a module's tests that share one sandbox per database."""
    if request.param == "sqlite":
        yield None
    else:
        with postgresql_schema() as url:
            yield url

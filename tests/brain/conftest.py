"""Fixtures that give each brain test a real, empty database on each backend.

SQLite: a file under tmp_path. PostgreSQL: a fresh schema in the server's `test` database,
selected through the URL (``options=-csearch_path=…``) and dropped afterwards, so tests never
see each other's tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache

import psycopg
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url

from brain import Brain, open_brain

# Override to point the tests at another server; the database must exist and allow CREATE SCHEMA.
POSTGRES_URL = os.environ.get(
    "HURACAN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _admin_connection() -> psycopg.Connection:
    url = make_url(POSTGRES_URL)
    return psycopg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database,
        autocommit=True,
        connect_timeout=3,
    )


@cache
def _postgres_unavailable_reason() -> str | None:
    try:
        with _admin_connection():
            return None
    except psycopg.Error as exc:
        url = make_url(POSTGRES_URL).render_as_string(hide_password=True)
        return f"no PostgreSQL server answers at {url}: {str(exc).splitlines()[0]}"


def require_postgres() -> None:
    """Skip when there is no server, except on CI, where a missing server is a failure."""
    reason = _postgres_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true, so PostgreSQL tests may not skip)")
    pytest.skip(reason)


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A brain URL pointing at a brand-new PostgreSQL schema, dropped after the test."""
    require_postgres()
    schema = f"brain_test_{uuid.uuid4().hex[:12]}"
    with _admin_connection() as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with _admin_connection() as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def brain_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'brain.db'}"
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def brain(brain_url) -> Iterator[Brain]:
    with open_brain(brain_url) as opened:
        yield opened


@pytest.fixture
def raw_engine(brain_url) -> Iterator[Engine]:
    """A plain engine on the same database, for doing what the Brain API deliberately won't
    (tampering with rows, forging old schemas)."""
    engine = create_engine(brain_url)
    yield engine
    engine.dispose()

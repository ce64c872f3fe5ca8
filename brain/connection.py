"""Engines and transactions for both backends, with database errors turned into BrainError."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError

from brain.errors import BrainError
from brain.urls import safe_url

BUSY_TIMEOUT_MS = 10_000

# Pragmas every SQLite connection needs. busy_timeout makes a second writer wait instead of
# failing; WAL lets consoles read while a worker writes; SQLite leaves foreign keys off unless
# asked; synchronous=NORMAL is durable enough under WAL and much faster than FULL.
SQLITE_PRAGMAS = (
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)

# Marks a connection whose next transaction will write (see _begin_sqlite_transaction).
WRITE_OPTION = "brain_write"


def create_brain_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url)
    connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": 5}
    # pre_ping: a console stays open for days; a restarted server must not break it.
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _create_sqlite_engine(url: URL) -> Engine:
    if url.query.get("mode") == "ro":  # `sqlite:///file:PATH?mode=ro&uri=true`: read-only as asked
        return _create_read_only_sqlite_engine(url)
    path = Path(url.database or ":memory:").expanduser()
    if read_only_file(path):
        return _create_read_only_sqlite_engine(
            url.set(database=f"file:{quote(str(path))}", query={"mode": "ro", "uri": "true"}))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BrainError(f"cannot create the brain's folder {path.parent}: {exc.strerror or exc}") from None
    engine = create_engine(url.set(database=str(path)))
    event.listen(engine, "connect", _prepare_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _create_read_only_sqlite_engine(url: URL) -> Engine:
    # Opened read-only (SQLite's mode=ro): viewing works, and every write fails at once with
    # "attempt to write a readonly database" instead of half-way through.
    engine = create_engine(url)
    event.listen(engine, "connect", _prepare_read_only_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _prepare_sqlite_connection(dbapi_connection, _connection_record) -> None:
    # Take transaction control away from the sqlite3 module (which would BEGIN lazily, as
    # DEFERRED, right before the first write); _begin_sqlite_transaction issues BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            _execute_waiting_for_locks(cursor, pragma)
    finally:
        cursor.close()


def read_only_file(path: Path) -> bool:
    """An existing brain file this user may read but not write (its permissions, checked before
    connecting: SQLite would open it read-write and fail only at the first write)."""
    return path.is_file() and os.access(path, os.R_OK) and not os.access(path, os.W_OK)


def is_read_only(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.query.get("mode") == "ro"


def _prepare_read_only_sqlite_connection(dbapi_connection, _connection_record) -> None:
    # Only the pragmas that write nothing: the journal mode is the file's, set when it was made.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            if "journal_mode" not in pragma:
                cursor.execute(pragma)
    finally:
        cursor.close()


def _execute_waiting_for_locks(cursor, statement: str) -> None:
    # Turning a fresh file to WAL needs an exclusive lock, and SQLite reports "locked" at once
    # there instead of calling the busy handler; so processes opening a new brain together
    # would fail. Wait for the lock ourselves, as long as busy_timeout would have.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute(statement)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _begin_sqlite_transaction(conn: Connection) -> None:
    # A writer takes the write lock at BEGIN (waiting up to busy_timeout), so two writers
    # serialise instead of one failing with "database is locked" when it tries to upgrade a
    # read lock. Readers stay DEFERRED so they never wait for writers under WAL.
    if conn.get_execution_options().get(WRITE_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def describe_dbapi_error(exc: DBAPIError) -> str:
    """The driver's message as one short line (psycopg's span several, with hints)."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    line = next((part.strip() for part in text.splitlines() if part.strip()), text.strip())
    # psycopg: 'connection failed: connection to server at "…", port 5999 failed: Connection
    # refused' -> keep what actually failed.
    if "failed: " in line:
        line = line.rsplit("failed: ", 1)[1]
    line = re.sub(r"^(FATAL|ERROR):\s+", "", line)
    line = re.sub(r"\s+", " ", line)
    return line[:1].lower() + line[1:]


def own_connection(engine: Engine) -> Connection:
    """A connection checked out for as long as its user keeps it, in autocommit so no transaction
    stays open on it (session-level state, such as an advisory lock, survives commits anyway)."""
    try:
        return engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    except DBAPIError as exc:
        raise BrainError(
            f"cannot reach the brain at {safe_url(engine.url)}: {describe_dbapi_error(exc)}"
        ) from None


@contextmanager
def transaction(engine: Engine, *, write: bool) -> Iterator[Connection]:
    """One transaction on a pooled connection; commits on success, rolls back on any error."""
    try:
        conn = engine.connect()
    except DBAPIError as exc:
        raise BrainError(
            f"cannot reach the brain at {safe_url(engine.url)}: {describe_dbapi_error(exc)}"
        ) from None
    with conn:
        if write:
            conn.execution_options(**{WRITE_OPTION: True})
        try:
            with conn.begin():
                yield conn
        except DBAPIError as exc:
            raise BrainError(f"brain operation failed: {describe_dbapi_error(exc)}") from exc

"""INSERT … ON CONFLICT: SQLite and PostgreSQL spell it alike, SQLAlchemy builds it per dialect."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def insert_on_conflict(conn: Connection, table: Table):
    """An insert construct offering ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)

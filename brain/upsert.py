"""INSERT … ON CONFLICT: SQLite and PostgreSQL spell it alike, SQLAlchemy builds it per dialect."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.engine import Connection


def insert_on_conflict(conn: Connection, table: Table):
    """An insert construct offering ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    # Each dialect's module is imported on first use: a console on SQLite never loads
    # PostgreSQL's (tens of ms of its start).
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)

"""Small typed helpers for what SQLAlchemy hands back after a statement."""

from __future__ import annotations

from sqlalchemy.engine import CursorResult


def inserted_id(result: CursorResult) -> int:
    """The primary key of the row a single-row INSERT just wrote."""
    key = result.inserted_primary_key
    if key is None:  # only for statements that are not single-row inserts
        raise ValueError("not the result of a single-row INSERT")
    return int(key[0])

"""Migration 11: feed states — what the live loop last knew of each feed it reads.

One row per series (symbol, timeframe): running (it delivers, or waits for, new bars), ended (a
replay played out) or failing (its last poll raised, with the reason), and when that was seen.
The leader writes a row when a feed's state changes; every console shows them.

Frozen at version 11 like every migration; later changes belong in a new module.
"""

from sqlalchemy import Column, MetaData, Table, Text
from sqlalchemy.engine import Connection

from brain.column_types import UTCDateTime

VERSION = 11
NAME = "feed_states"

_metadata = MetaData()

Table(
    "feed_states",
    _metadata,
    Column("symbol", Text, primary_key=True),
    Column("timeframe", Text, primary_key=True),
    Column("state", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


def upgrade(conn: Connection) -> None:
    _metadata.create_all(conn, tables=[_metadata.tables["feed_states"]])

"""Migration 3: data quality logs, and one table per kind of alternative data.

Alternative data gets a table per kind (funding_rates, open_interest, liquidations,
sentiment_scores) rather than one `alt_data` table with a `kind` column: each kind has its own
value columns (liquidations have two), which stay typed and NOT NULL this way, and each table's
primary key (symbol, ts) is exactly the as-of join key. A generic table would need nullable
columns or a key/value layout that the database could no longer check.

Frozen at version 3 like every migration; later changes belong in a new module.
"""

from sqlalchemy import Column, Float, Index, Integer, MetaData, Table, Text
from sqlalchemy.engine import Connection

from brain.column_types import JSONText, UTCDateTime

VERSION = 3
NAME = "data_quality_altdata"

_metadata = MetaData()

Table(
    "data_quality_logs",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", UTCDateTime, nullable=False),
    Column("source", Text, nullable=False),
    Column("symbol", Text),
    Column("timeframe", Text),
    Column("calendar", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("count", Integer, nullable=False),
    Column("severity", Text, nullable=False),
    Column("example", Text),
    Column("details", JSONText),
    Index("ix_data_quality_logs_source_ts", "source", "ts"),
)


def _alt_table(name: str, *values: str) -> None:
    Table(
        name,
        _metadata,
        Column("symbol", Text, primary_key=True),
        Column("ts", UTCDateTime, primary_key=True),
        *(Column(value, Float, nullable=False) for value in values),
    )


_alt_table("funding_rates", "rate")
_alt_table("open_interest", "open_interest")
_alt_table("liquidations", "long_usd", "short_usd")
_alt_table("sentiment_scores", "score")


def upgrade(conn: Connection) -> None:
    _metadata.create_all(conn)

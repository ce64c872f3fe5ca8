"""Migration 7: a partial index for the newest live metrics of a version.

A leader appends live metric rows on every matured bar, so at a few months the console's "newest
live value per champion" would scan millions of rows; this index lets it seek instead. Partial
(scope 'live', fold NULL) so it stays small and the planner reads it in ts order.

Frozen at version 7 like every migration; later changes belong in a new module.
"""

from sqlalchemy import Column, Float, Index, Integer, MetaData, Table, Text, text
from sqlalchemy.engine import Connection

from brain.column_types import UTCDateTime

VERSION = 7
NAME = "live_metrics_index"

_metadata = MetaData()

_model_metrics = Table(
    "model_metrics",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer),
    Column("name", Text),
    Column("value", Float),
    Column("fold", Integer),
    Column("ts", UTCDateTime),
    Column("scope", Text),
)

LIVE_INDEX = Index(
    "ix_model_metrics_live_newest",
    _model_metrics.c.version_id, _model_metrics.c.name, _model_metrics.c.ts,
    sqlite_where=text("scope = 'live' AND fold IS NULL"),
    postgresql_where=text("scope = 'live' AND fold IS NULL"),
)


def upgrade(conn: Connection) -> None:
    LIVE_INDEX.create(conn)

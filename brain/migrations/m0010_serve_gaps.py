"""Migration 10: serve gaps — bars a version was asked to forecast and could not, and why.

A version that reads alternative data cannot forecast a bar whose value is missing or older than
its spec allows; the live loop records the bar with a named state (alt_missing, alt_stale,
features_not_ready) instead of forecasting on a made-up value. One row per (slot, version, bar,
state), so a tick that sees the same bar again adds nothing.

Frozen at version 10 like every migration; later changes belong in a new module.
"""

from sqlalchemy import Column, ForeignKey, Index, Integer, MetaData, Table, Text, UniqueConstraint
from sqlalchemy.engine import Connection

from brain.column_types import UTCDateTime

VERSION = 10
NAME = "serve_gaps"

_metadata = MetaData()

Table("model_versions", _metadata, Column("id", Integer, primary_key=True))  # FK target only

Table(
    "serve_gaps",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("slot_key", Text, nullable=False),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("ts", UTCDateTime, nullable=False),  # the bar
    Column("state", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    UniqueConstraint("slot_key", "version_id", "ts", "state", name="uq_serve_gaps_bar"),
    Index("ix_serve_gaps_slot_ts", "slot_key", "ts"),
)


def upgrade(conn: Connection) -> None:
    _metadata.create_all(conn, tables=[_metadata.tables["serve_gaps"]])

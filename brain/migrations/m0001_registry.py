"""Migration 1: the model registry (slots, bars, artifacts, versions, metrics).

The tables are defined here as they were at version 1 and must never be edited: a brain
created by this migration and upgraded by the later ones has to end up like a fresh one.
"""

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Connection

from brain.column_types import JSONText, UTCDateTime

VERSION = 1
NAME = "registry"

_metadata = MetaData()

Table(
    "slots",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("key", Text, nullable=False, unique=True),
    Column("symbol", Text, nullable=False),
    Column("timeframe", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("horizon", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

Table(
    "bars",
    _metadata,
    Column("symbol", Text, primary_key=True),
    Column("timeframe", Text, primary_key=True),
    Column("ts", UTCDateTime, primary_key=True),
    Column("open", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("close", Float, nullable=False),
    Column("volume", Float, nullable=False),
)

Table(
    "artifacts",
    _metadata,
    Column("sha256", Text, primary_key=True),
    Column("format", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

Table(
    "model_versions",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("slot_id", Integer, ForeignKey("slots.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("model_kind", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="trained"),
    Column("artifact_sha256", Text, ForeignKey("artifacts.sha256"), nullable=False),
    Column("manifest", JSONText, nullable=False),
    Column("data_start", UTCDateTime),
    Column("data_end", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("slot_id", "number", name="uq_model_versions_slot_number"),
)

Table(
    "model_metrics",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("value", Float),
    Column("fold", Integer),
    Column("ts", UTCDateTime, nullable=False),
    Column("scope", Text, nullable=False, server_default="oos"),
    Index("ix_model_metrics_version_name", "version_id", "name"),
)


def upgrade(conn: Connection) -> None:
    _metadata.create_all(conn)

"""The CURRENT shape of the brain, used for every query.

Migrations never use this module: each one freezes its own DDL, so replaying history yields
exactly this shape (a test reflects a migrated database and compares it with this metadata).
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

from brain.column_types import JSONText, UTCDateTime

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

slots = Table(
    "slots",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", Text, nullable=False, unique=True),
    Column("symbol", Text, nullable=False),
    Column("timeframe", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("horizon", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

bars = Table(
    "bars",
    metadata,
    Column("symbol", Text, primary_key=True),
    Column("timeframe", Text, primary_key=True),
    Column("ts", UTCDateTime, primary_key=True),
    Column("open", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("close", Float, nullable=False),
    Column("volume", Float, nullable=False),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("sha256", Text, primary_key=True),
    Column("format", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
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
    Column("notes", Text),  # added by migration 2
    UniqueConstraint("slot_id", "number", name="uq_model_versions_slot_number"),
)

model_metrics = Table(
    "model_metrics",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("value", Float),  # NULL stands for NaN
    Column("fold", Integer),  # NULL = over all folds
    Column("ts", UTCDateTime, nullable=False),
    Column("scope", Text, nullable=False, server_default="oos"),
    Index("ix_model_metrics_version_name", "version_id", "name"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("slot_key", Text),
    Column("params", JSONText, nullable=False),
    Column("state", Text, nullable=False),
    Column("progress", Float, nullable=False),
    Column("message", Text, nullable=False),
    Column("device", Text, nullable=False),
    Column("worker", Text),
    Column("pid", Integer),
    Column("error", Text),
    Column("result", JSONText),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("heartbeat_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Index("ix_jobs_state_created", "state", "created_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", UTCDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("origin", Text),
    Column("action", Text, nullable=False),
    Column("target", Text),
    Column("reason", Text),
    Column("outcome", Text, nullable=False),
    Column("details", JSONText),
    Index("ix_audit_log_ts", "ts"),
)

"""Migration 2: the job queue, the audit log, and free-text notes on model versions.

Frozen at version 2 like every migration; later changes belong in a new module.
"""

from sqlalchemy import Column, Float, Index, Integer, MetaData, Table, Text
from sqlalchemy.engine import Connection

from brain.column_types import JSONText, UTCDateTime

VERSION = 2
NAME = "jobs_audit"

_metadata = MetaData()

Table(
    "jobs",
    _metadata,
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

Table(
    "audit_log",
    _metadata,
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


def upgrade(conn: Connection) -> None:
    _metadata.create_all(conn)
    # Plain SQL that both backends accept; a nullable column needs no table rebuild on SQLite.
    conn.exec_driver_sql("ALTER TABLE model_versions ADD COLUMN notes TEXT")

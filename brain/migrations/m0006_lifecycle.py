"""Migration 6: the model lifecycle and the live loop — promotion history, rollback log, the
retrain / prune queues, console commands for the leader, the leader lease, live predictions with
their realised outcomes, per-job progress events (loss curves), and the console's recorded history.

Frozen at version 6 like every migration; later changes belong in a new module.
"""

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, MetaData, Table, Text, UniqueConstraint
from sqlalchemy.engine import Connection

from brain.column_types import JSONText, UTCDateTime

VERSION = 6
NAME = "lifecycle"

_metadata = MetaData()

Table("model_versions", _metadata, Column("id", Integer, primary_key=True))  # FK target only
Table("jobs", _metadata, Column("id", Integer, primary_key=True))  # FK target only

# One row per change of champion; "what was live at T" is the newest row with ts <= T.
Table(
    "promotions",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", UTCDateTime, nullable=False),
    Column("slot_key", Text, nullable=False),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("previous_version_id", Integer, ForeignKey("model_versions.id")),
    Column("kind", Text, nullable=False),  # promote, rollback, auto_rollback
    Column("forced", Integer, nullable=False, server_default="0"),
    Column("verdict", Text),  # the A/B verdict it rested on, or NULL when forced without one
    Column("actor", Text, nullable=False),
    Column("origin", Text),
    Column("reason", Text, nullable=False),
    Column("metrics", JSONText),  # metrics snapshot of both versions at the time
    Index("ix_promotions_slot_ts", "slot_key", "ts"),
)

Table(
    "rollback_logs",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", UTCDateTime, nullable=False),
    Column("slot_key", Text, nullable=False),
    Column("from_version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("to_version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("automatic", Integer, nullable=False, server_default="0"),
    Column("actor", Text, nullable=False),
    Column("origin", Text),
    Column("reason", Text, nullable=False),
    Column("evidence", JSONText),
    Index("ix_rollback_logs_slot_ts", "slot_key", "ts"),
)

# The retrain and prune queues: policies put items in, operators approve / reject them.
Table(
    "queue_items",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("queue", Text, nullable=False),  # retrain, prune
    Column("slot_key", Text, nullable=False),
    Column("version_id", Integer, ForeignKey("model_versions.id")),  # the version to prune
    Column("rule", Text, nullable=False),  # which policy put it there
    Column("reason", Text, nullable=False),
    Column("evidence", JSONText),
    Column("state", Text, nullable=False),  # pending, approved, rejected, done
    Column("created_at", UTCDateTime, nullable=False),
    Column("decided_at", UTCDateTime),
    Column("decided_by", Text),
    Column("decision_reason", Text),
    Column("job_id", Integer, ForeignKey("jobs.id")),
    Index("ix_queue_items_queue_state", "queue", "state"),
    Index("ix_queue_items_slot_rule_created", "slot_key", "rule", "created_at"),
)

# Actions of attached consoles, executed (or refused) by the leader.
Table(
    "commands",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", UTCDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("origin", Text),
    Column("role", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("args", JSONText, nullable=False),
    Column("state", Text, nullable=False),  # pending, running, done, failed, refused
    Column("outcome", Text),
    Column("result", JSONText),
    Column("handled_by", Text),
    Column("handled_at", UTCDateTime),
    Index("ix_commands_state_ts", "state", "ts"),
)

# The SQLite leader lease (PostgreSQL uses an advisory lock and records the holder here too).
Table(
    "leader_lease",
    _metadata,
    Column("name", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("host", Text),
    Column("pid", Integer),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# One row per live prediction of a slot's champion; the outcome is filled in once it matures.
Table(
    "predictions",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("slot_key", Text, nullable=False),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("ts", UTCDateTime, nullable=False),  # the bar the prediction was made on
    Column("predicted_at", UTCDateTime, nullable=False),
    Column("batch", Float, nullable=False),
    Column("online", Float),
    Column("blended", Float, nullable=False),
    Column("realised", Float),
    Column("realised_at", UTCDateTime),
    UniqueConstraint("slot_key", "version_id", "ts", name="uq_predictions_slot_version_ts"),
    Index("ix_predictions_slot_ts", "slot_key", "ts"),
)

# Per-step progress of a job (epoch losses of neural training, fold scores, ...).
Table(
    "job_events",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=False),
    Column("ts", UTCDateTime, nullable=False),
    Column("step", Integer, nullable=False),
    Column("values", JSONText, nullable=False),
    Index("ix_job_events_job_step", "job_id", "step"),
)

# Compact frames of what the console showed, recorded by the leader for replay.
Table(
    "console_history",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", UTCDateTime, nullable=False),
    Column("kind", Text, nullable=False),  # metrics, queues, drift
    Column("payload", JSONText, nullable=False),
    Index("ix_console_history_kind_ts", "kind", "ts"),
)

_NEW_TABLES = ("promotions", "rollback_logs", "queue_items", "commands", "leader_lease", "predictions",
               "job_events", "console_history")


def upgrade(conn: Connection) -> None:
    _metadata.create_all(conn, tables=[_metadata.tables[name] for name in _NEW_TABLES])

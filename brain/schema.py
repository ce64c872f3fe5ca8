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
    Index("ix_model_metrics_version_scope_fold", "version_id", "scope", "fold", "name"),
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

data_quality_logs = Table(  # added by migration 3
    "data_quality_logs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", UTCDateTime, nullable=False),
    Column("source", Text, nullable=False),
    Column("symbol", Text),
    Column("timeframe", Text),
    Column("calendar", Text, nullable=False),
    Column("kind", Text, nullable=False),  # an issue kind, or "summary" (one per report)
    Column("count", Integer, nullable=False),
    Column("severity", Text, nullable=False),  # ok, info, warning, error
    Column("example", Text),
    Column("details", JSONText),
    Index("ix_data_quality_logs_source_ts", "source", "ts"),
)


def _alt_data_table(name: str, *values: str) -> Table:
    return Table(
        name,
        metadata,
        Column("symbol", Text, primary_key=True),
        Column("ts", UTCDateTime, primary_key=True),
        *(Column(value, Float, nullable=False) for value in values),
    )


# Alternative data, one table per kind (migration 3 says why).
funding_rates = _alt_data_table("funding_rates", "rate")
open_interest = _alt_data_table("open_interest", "open_interest")
liquidations = _alt_data_table("liquidations", "long_usd", "short_usd")
sentiment_scores = _alt_data_table("sentiment_scores", "score")


drift_results = Table(  # added by migration 5
    "drift_results",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", UTCDateTime, nullable=False),
    Column("slot_key", Text),
    Column("feature", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("statistic", Float),
    Column("p_value", Float),
    Column("threshold", Float, nullable=False),
    Column("drifted", Integer, nullable=False),
    Column("reference_start", UTCDateTime),
    Column("reference_end", UTCDateTime),
    Column("current_start", UTCDateTime),
    Column("current_end", UTCDateTime),
    Column("details", JSONText),
    Index("ix_drift_results_slot_feature_ts", "slot_key", "feature", "ts"),
)

feature_importance = Table(  # added by migration 5
    "feature_importance",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("method", Text, nullable=False),
    Column("feature", Text, nullable=False),
    Column("value", Float),
    Column("rank", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_feature_importance_version_method", "version_id", "method"),
)

model_comparisons = Table(  # added by migration 5
    "model_comparisons",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", UTCDateTime, nullable=False),
    Column("slot_key", Text, nullable=False),
    Column("champion_version", Integer, nullable=False),
    Column("challenger_version", Integer, nullable=False),
    Column("test", Text, nullable=False),
    Column("statistic", Float),
    Column("p_value", Float),
    Column("p_adjusted", Float),
    Column("correction", Text),
    Column("effect_size", Float),
    Column("verdict", Text, nullable=False),
    Column("details", JSONText),
    Index("ix_model_comparisons_slot_ts", "slot_key", "ts"),
)

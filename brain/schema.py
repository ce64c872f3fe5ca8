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
    # Migration 7: the newest live values of a version, found by a seek. Partial, WHERE scope =
    # 'live' AND fold IS NULL, as migration 7 creates it; the condition is not repeated here
    # because dialect options make SQLAlchemy import PostgreSQL's dialect in every process that
    # loads this module (a console on SQLite included), and nothing creates tables from here.
    Index("ix_model_metrics_live_newest", "version_id", "name", "ts"),
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

# One row per change of champion; "what was live at T" is the newest row with ts <= T.
promotions = Table(  # added by migration 6
    "promotions",
    metadata,
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

rollback_logs = Table(  # added by migration 6
    "rollback_logs",
    metadata,
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
queue_items = Table(  # added by migration 6
    "queue_items",
    metadata,
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

# Operator requests of consoles and the CLI, carried out (or refused) by the leader.
operator_requests = Table(  # added by migration 6 as `commands`, renamed by migration 8
    "operator_requests",
    metadata,
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
    Index("ix_operator_requests_state_ts", "state", "ts"),
)

# The SQLite leader lease (PostgreSQL uses an advisory lock and records the holder here too).
leader_lease = Table(  # added by migration 6
    "leader_lease",
    metadata,
    Column("name", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("host", Text),
    Column("pid", Integer),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# One row per live prediction of a slot's champion; the outcome is filled in once it matures.
predictions = Table(  # added by migration 6
    "predictions",
    metadata,
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
    Column("details", JSONText),  # an agent's choice on the bar (migration 15); NULL for other kinds
    UniqueConstraint("slot_key", "version_id", "ts", name="uq_predictions_slot_version_ts"),
    Index("ix_predictions_slot_ts", "slot_key", "ts"),
)

# Per-step progress of a job (epoch losses of neural training, fold scores, ...).
job_events = Table(  # added by migration 6
    "job_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=False),
    Column("ts", UTCDateTime, nullable=False),
    Column("step", Integer, nullable=False),
    Column("values", JSONText, nullable=False),
    Index("ix_job_events_job_step", "job_id", "step"),
)

# Compact frames of what the console showed, recorded by the leader for replay.
console_history = Table(  # added by migration 6
    "console_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", UTCDateTime, nullable=False),
    Column("kind", Text, nullable=False),  # metrics, queues, drift
    Column("payload", JSONText, nullable=False),
    Index("ix_console_history_kind_ts", "kind", "ts"),
)

# Who may act on this brain; the owner (who created it) grants and revokes the others' roles.
user_roles = Table(  # added by migration 9
    "user_roles",
    metadata,
    Column("user", Text, primary_key=True),
    Column("role", Text, nullable=False),  # viewer, operator, owner
    Column("granted_by", Text, nullable=False),
    Column("granted_at", UTCDateTime, nullable=False),
)

# Bars a version could not forecast, and why (alt_missing, alt_stale, features_not_ready).
serve_gaps = Table(  # added by migration 10
    "serve_gaps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slot_key", Text, nullable=False),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("ts", UTCDateTime, nullable=False),
    Column("state", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    UniqueConstraint("slot_key", "version_id", "ts", "state", name="uq_serve_gaps_bar"),
    Index("ix_serve_gaps_slot_ts", "slot_key", "ts"),
)

# What the live loop last knew of each feed: running, ended (a replay played out) or failing.
feed_states = Table(  # added by migration 11
    "feed_states",
    metadata,
    Column("symbol", Text, primary_key=True),
    Column("timeframe", Text, primary_key=True),
    Column("state", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Each version's walk-forward out-of-sample rows, stored with the version (brain/oos_predictions.py).
version_oos_predictions = Table(  # added by migration 12
    "version_oos_predictions",
    metadata,
    Column("version_id", Integer, ForeignKey("model_versions.id"), primary_key=True),
    Column("ts", UTCDateTime, primary_key=True),  # the bar predicted
    Column("fold", Integer, nullable=False),
    Column("prediction", Float),  # what the trading metrics trade on; NULL stands for NaN
    Column("next_ret", Float),  # the next bar's realised return (a fraction) it was scored against
)

# Changes of state told to webhooks and commands (brain/alerts.py); dedupe_key: one row per change.
alerts = Table(  # added by migration 13
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", Text, nullable=False),  # drift, rollback, job_failed, feed_stale, leader_change
    Column("subject", Text, nullable=False),  # the slot, job, feed or lease it is about
    Column("condition", Text, nullable=False),  # what the subject's state is now, by this alert
    Column("dedupe_key", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("payload", JSONText, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("dedupe_key", name="uq_alerts_dedupe_key"),
    Index("ix_alerts_kind_subject", "kind", "subject", "id"),
)

# One per alert and sink: pending (next_attempt_at says when), delivered or undeliverable.
alert_deliveries = Table(  # added by migration 13
    "alert_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("sink", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", Text),
    Column("delivered_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("alert_id", "sink", name="uq_alert_deliveries_alert_sink"),
    Index("ix_alert_deliveries_state_next", "state", "next_attempt_at"),
)

# What `huracan export mlflow` wrote to each tracking server (brain/mlflow_exports.py).
mlflow_runs = Table(  # added by migration 14
    "mlflow_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tracking_uri", Text, nullable=False),  # never with a password: those are refused
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("experiment_id", Text, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("model_version", Text),  # the registered model's version made from the run
    Column("exported_at", UTCDateTime, nullable=False),
    UniqueConstraint("tracking_uri", "version_id", name="uq_mlflow_runs_uri_version"),
)

# One per tracking server and slot: its experiment, registered model and last `champion` alias.
mlflow_models = Table(  # added by migration 14
    "mlflow_models",
    metadata,
    Column("tracking_uri", Text, primary_key=True),
    Column("slot_key", Text, primary_key=True),
    Column("experiment_id", Text, nullable=False),
    Column("registered_model", Text, nullable=False),
    Column("champion_number", Integer),  # the version the alias points at; NULL: no alias
    Column("updated_at", UTCDateTime, nullable=False),
)

# The champion run on GAN-made synthetic paths, with the stylised facts (brain/stress.py).
stress_results = Table(  # added by migration 16
    "stress_results",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slot_key", Text, nullable=False),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("paths", Integer, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("generator_sha256", Text, ForeignKey("artifacts.sha256"), nullable=False),  # the GAN used
    Column("generator_key", Text, nullable=False),  # what it was trained on and how, for reuse
    Column("report", JSONText, nullable=False),
    Index("ix_stress_results_slot_created", "slot_key", "created_at"),
)

# Each stage's newest checkpoint of a neural train run, so a requeued job resumes (brain/checkpoints.py).
training_checkpoints = Table(  # added by migration 17
    "training_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_key", Text, nullable=False),  # the same for a job and its requeues
    Column("stage", Text, nullable=False),  # slot / kind / fold N or final
    Column("job_id", Integer, nullable=False),  # the job that wrote it
    Column("epoch", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),  # torch.save of tensors and plain containers
    UniqueConstraint("run_key", "stage", name="uq_training_checkpoints_run_stage"),
)

# Each bar's causal market-regime label per axis and labelling configuration (brain/regimes.py).
regime_labels = Table(  # added by migration 18
    "regime_labels",
    metadata,
    Column("symbol", Text, primary_key=True),
    Column("timeframe", Text, primary_key=True),
    Column("config_key", Text, primary_key=True),  # a hash of the RegimeConfig fields that change labels
    Column("axis", Text, primary_key=True),  # vol, trend, hmm
    Column("ts", UTCDateTime, primary_key=True),
    Column("label", Text),  # NULL: too little history for a label at this bar
)

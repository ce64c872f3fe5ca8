"""Migration 5: what watching models produces — drift checks, feature importance per version,
and champion/challenger comparisons.

Frozen at version 5 like every migration; later changes belong in a new module.
"""

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, MetaData, Table, Text
from sqlalchemy.engine import Connection

from brain.column_types import JSONText, UTCDateTime

VERSION = 5
NAME = "monitoring"

_metadata = MetaData()

Table("model_versions", _metadata, Column("id", Integer, primary_key=True))  # FK target only

Table(
    "drift_results",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", UTCDateTime, nullable=False),  # when the check ran
    Column("slot_key", Text),  # NULL for ad-hoc checks of files
    Column("feature", Text, nullable=False),
    Column("method", Text, nullable=False),  # ks, psi, psi_quantile, wasserstein, jensenshannon, ...
    Column("statistic", Float),
    Column("p_value", Float),
    Column("threshold", Float, nullable=False),
    Column("drifted", Integer, nullable=False),  # 0 / 1
    Column("reference_start", UTCDateTime),
    Column("reference_end", UTCDateTime),
    Column("current_start", UTCDateTime),
    Column("current_end", UTCDateTime),
    Column("details", JSONText),
    Index("ix_drift_results_slot_feature_ts", "slot_key", "feature", "ts"),
)

Table(
    "feature_importance",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("method", Text, nullable=False),  # tree_shap, permutation, correlation, variance, native
    Column("feature", Text, nullable=False),
    Column("value", Float),
    Column("rank", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_feature_importance_version_method", "version_id", "method"),
)

Table(
    "model_comparisons",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", UTCDateTime, nullable=False),
    Column("slot_key", Text, nullable=False),
    Column("champion_version", Integer, nullable=False),
    Column("challenger_version", Integer, nullable=False),
    Column("test", Text, nullable=False),  # paired_t, wilcoxon, mann_whitney, diebold_mariano, ...
    Column("statistic", Float),
    Column("p_value", Float),
    Column("p_adjusted", Float),
    Column("correction", Text),  # holm, fdr_bh, or NULL
    Column("effect_size", Float),
    Column("verdict", Text, nullable=False),  # challenger_better, champion_better, no_difference
    Column("details", JSONText),
    Index("ix_model_comparisons_slot_ts", "slot_key", "ts"),
)


def upgrade(conn: Connection) -> None:
    _metadata.create_all(conn, tables=[_metadata.tables[name] for name in
                                       ("drift_results", "feature_importance", "model_comparisons")])

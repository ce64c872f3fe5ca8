"""Schema migrations: an ordered list of frozen steps and the runner that applies them.

Each step is a module with VERSION, NAME and ``upgrade(conn)``. The runner applies one step
per transaction together with its ``schema_version`` row, so a process killed mid-way leaves
the brain at the previous version, never in between.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from types import ModuleType

from sqlalchemy import Column, Integer, MetaData, Table, Text, func, insert, inspect, select
from sqlalchemy.engine import Connection

from brain.column_types import UTCDateTime
from brain.errors import BrainError

# The steps in order, step N bringing a brain to version N. They are imported only when a brain
# needs them: most opens find the brain up to date, and the steps' table definitions (one needs
# PostgreSQL's dialect) cost a console's start tens of milliseconds.
STEPS = (
    "m0001_registry",
    "m0002_jobs_audit",
    "m0003_data_quality_altdata",
    "m0004_metrics_scope_index",
    "m0005_monitoring",
    "m0006_lifecycle",
    "m0007_live_metrics_index",
    "m0008_operator_requests",
    "m0009_roles_audit_append_only",
    "m0010_serve_gaps",
    "m0011_feed_states",
    "m0012_version_oos_predictions",
    "m0013_alerts",
    "m0014_mlflow_exports",
    "m0015_prediction_details",
    "m0016_stress_results",
    "m0017_training_checkpoints",
    "m0018_regime_labels",
)
SCHEMA_VERSION = len(STEPS)


def step(version: int) -> ModuleType:
    """The frozen step that brings a brain to `version`."""
    module = importlib.import_module(f"brain.migrations.{STEPS[version - 1]}")
    if module.VERSION != version:
        raise RuntimeError(f"brain migration {STEPS[version - 1]} says VERSION {module.VERSION}, "
                           f"but it is step {version} of the list")
    return module


# The bookkeeping table is itself frozen: changing it would strand every existing brain.
_bookkeeping = MetaData()
_schema_version = Table(
    "schema_version",
    _bookkeeping,
    Column("version", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)


def current_version(conn: Connection) -> int:
    """The highest applied migration; 0 for an empty database."""
    if not inspect(conn).has_table("schema_version"):
        return 0
    return conn.execute(select(func.max(_schema_version.c.version))).scalar() or 0


def refuse_newer(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise BrainError(
            f"brain schema is version {version}, this huracan knows up to {SCHEMA_VERSION}; upgrade huracan"
        )


def _lock_out_other_migrators(conn: Connection) -> None:
    # SQLite needs nothing here: the caller's transaction began with BEGIN IMMEDIATE, which
    # already keeps every other writer out until it ends. On PostgreSQL a transaction-scoped
    # advisory lock does the same, keyed on the schema so separate brains don't contend.
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "SELECT pg_advisory_xact_lock(hashtext('huracan.brain.migrate:' || current_schema()))"
        )


def apply_next_migration(conn: Connection, target: int = SCHEMA_VERSION) -> int | None:
    """Inside the caller's write transaction: apply the next pending step up to ``target``.

    Returns the version applied, or None when the brain is already at ``target`` or beyond.
    The version is read after taking the lock, so a concurrent migrator that got there first
    simply leaves nothing to do.
    """
    _lock_out_other_migrators(conn)
    _schema_version.create(conn, checkfirst=True)
    version = current_version(conn)
    refuse_newer(version)
    if version >= target:
        return None
    pending = step(version + 1)
    pending.upgrade(conn)
    conn.execute(
        insert(_schema_version).values(version=pending.VERSION, name=pending.NAME,
                                       applied_at=datetime.now(UTC))
    )
    return pending.VERSION

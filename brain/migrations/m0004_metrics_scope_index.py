"""Migration 4: index model metrics by (version, scope, fold).

Live metrics accumulate thousands of points per version; the console's status query wants only
a version's overall out-of-sample row per metric. Without scope and fold in an index, it reads
every live point of every latest version (seconds at 5 million rows, measured in
benchmarks/bench_console.py); with it, a few rows per version.

Frozen at version 4 like every migration; later changes belong in a new module.
"""

from sqlalchemy.engine import Connection

VERSION = 4
NAME = "metrics_scope_index"


def upgrade(conn: Connection) -> None:
    conn.exec_driver_sql(
        "CREATE INDEX ix_model_metrics_version_scope_fold ON model_metrics (version_id, scope, fold, name)"
    )

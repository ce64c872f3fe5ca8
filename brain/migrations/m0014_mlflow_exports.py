"""Migration 14: MLflow exports — what `huracan export mlflow` already wrote to each tracking server.

`mlflow_runs`: one row per (tracking URI, version): the MLflow run the version became, its
experiment, and the registered model version made from it. Written after the run is complete,
so exporting again skips exactly the versions that are there.

`mlflow_models`: one row per (tracking URI, slot): the slot's experiment and registered model,
and the version its `champion` alias was last set to (NULL: no alias), so the alias is moved
only when the slot's champion changed.

Frozen at version 14 like every migration; later changes belong in a new module.
"""

from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, Text, UniqueConstraint
from sqlalchemy.engine import Connection

from brain.column_types import UTCDateTime

VERSION = 14
NAME = "mlflow_exports"

_metadata = MetaData()

Table("model_versions", _metadata, Column("id", Integer, primary_key=True))  # FK target only

Table(
    "mlflow_runs",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("tracking_uri", Text, nullable=False),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("experiment_id", Text, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("model_version", Text),
    Column("exported_at", UTCDateTime, nullable=False),
    UniqueConstraint("tracking_uri", "version_id", name="uq_mlflow_runs_uri_version"),
)

Table(
    "mlflow_models",
    _metadata,
    Column("tracking_uri", Text, primary_key=True),
    Column("slot_key", Text, primary_key=True),
    Column("experiment_id", Text, nullable=False),
    Column("registered_model", Text, nullable=False),
    Column("champion_number", Integer),
    Column("updated_at", UTCDateTime, nullable=False),
)


def upgrade(conn: Connection) -> None:
    _metadata.create_all(conn, tables=[_metadata.tables["mlflow_runs"], _metadata.tables["mlflow_models"]])

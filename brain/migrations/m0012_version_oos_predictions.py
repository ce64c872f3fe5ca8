"""Migration 12: each version's walk-forward out-of-sample predictions, kept with the version.

One row per out-of-sample bar of a version: the fold that predicted it, the bar, the prediction
(the number the trading metrics trade on) and the next bar's realised return it was scored
against (a fraction). Written in the transaction that stores the version, so the slot detail
draws a version's walk-forward equity curve without a refit. Versions stored before this
migration have none. NULL stands for NaN, as in model_metrics.

Frozen at version 12 like every migration; later changes belong in a new module.
"""

from sqlalchemy import Column, Float, ForeignKey, Integer, MetaData, Table
from sqlalchemy.engine import Connection

from brain.column_types import UTCDateTime

VERSION = 12
NAME = "version_oos_predictions"

_metadata = MetaData()

Table("model_versions", _metadata, Column("id", Integer, primary_key=True))  # FK target only

Table(
    "version_oos_predictions",
    _metadata,
    Column("version_id", Integer, ForeignKey("model_versions.id"), primary_key=True),
    Column("ts", UTCDateTime, primary_key=True),  # the bar predicted
    Column("fold", Integer, nullable=False),
    Column("prediction", Float),
    Column("next_ret", Float),
)


def upgrade(conn: Connection) -> None:
    _metadata.create_all(conn, tables=[_metadata.tables["version_oos_predictions"]])

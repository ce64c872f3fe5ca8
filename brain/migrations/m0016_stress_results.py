"""Migration 16: stress results — the champion run on GAN-made synthetic paths (`huracan stress`).

`stress_results`: one row per stress run of a slot: the version stressed, how many paths and the
seed, the generator it used (an artifact: the GAN's weights and spec, so a later run on the same
bars reuses it; `generator_key` names what it was trained on and how), and the JSON report (the
distribution of Sharpe, max drawdown and hit rate over the paths, and the stylised facts).

Frozen at version 16 like every migration; later changes belong in a new module.
"""

from sqlalchemy import Column, ForeignKey, Index, Integer, MetaData, Table, Text
from sqlalchemy.engine import Connection

from brain.column_types import JSONText, UTCDateTime

VERSION = 16
NAME = "stress_results"

_metadata = MetaData()

Table("model_versions", _metadata, Column("id", Integer, primary_key=True))  # FK target only
Table("artifacts", _metadata, Column("sha256", Text, primary_key=True))  # FK target only

Table(
    "stress_results",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("slot_key", Text, nullable=False),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("paths", Integer, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("generator_sha256", Text, ForeignKey("artifacts.sha256"), nullable=False),
    Column("generator_key", Text, nullable=False),
    Column("report", JSONText, nullable=False),
    Index("ix_stress_results_slot_created", "slot_key", "created_at"),
)


def upgrade(conn: Connection) -> None:
    _metadata.create_all(conn, tables=[_metadata.tables["stress_results"]])

"""Migration 18: regime labels — each bar's causal market-regime label per axis (brain/regimes.py).

`regime_labels`: one row per series (symbol, timeframe), labelling configuration (`config_key`, a
hash of the RegimeConfig fields that change labels), axis (vol, trend, hmm) and bar; `label` NULL
where the bar has too little history for one. The primary key leads with the series, config and
axis, so a slot's labels over a range of bars are one index range.

Frozen at version 18 like every migration; later changes belong in a new module.
"""

from sqlalchemy import Column, MetaData, Table, Text
from sqlalchemy.engine import Connection

from brain.column_types import UTCDateTime

VERSION = 18
NAME = "regime_labels"

_metadata = MetaData()

Table(
    "regime_labels",
    _metadata,
    Column("symbol", Text, primary_key=True),
    Column("timeframe", Text, primary_key=True),
    Column("config_key", Text, primary_key=True),
    Column("axis", Text, primary_key=True),
    Column("ts", UTCDateTime, primary_key=True),
    Column("label", Text),
)


def upgrade(conn: Connection) -> None:
    _metadata.create_all(conn, tables=[_metadata.tables["regime_labels"]])

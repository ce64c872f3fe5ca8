"""A version's walk-forward out-of-sample predictions: written with the version, in the
transaction that stores it (brain.registry.add_version), and read back for the slot detail's
equity curve, so drawing it needs no refit. Pruning a version keeps them: they are its history."""

from __future__ import annotations

from itertools import islice

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from brain.column_types import nan_to_null
from brain.errors import BrainError
from brain.part import BrainPart
from brain.records import OutOfSampleRecord
from brain.schema import version_oos_predictions

# Rows per executemany: bounds the parameter lists a driver builds at once (a version of a
# minute series has hundreds of thousands of out-of-sample bars).
INSERT_CHUNK = 5000


def insert_oos_predictions(conn: Connection, version_id: int, rows: OutOfSampleRecord) -> int:
    """Inside the caller's transaction: store `rows` as version `version_id`'s, in bulk; returns
    the count. BrainError when the columns' lengths differ."""
    lengths = {len(rows.fold), len(rows.ts), len(rows.prediction), len(rows.next_ret)}
    if len(lengths) != 1:
        raise BrainError(f"out-of-sample rows of unequal lengths: fold {len(rows.fold)}, ts {len(rows.ts)}, "
                         f"prediction {len(rows.prediction)}, next_ret {len(rows.next_ret)}")
    prepared = (
        {"version_id": version_id, "fold": int(fold), "ts": ts, "prediction": nan_to_null(prediction),
         "next_ret": nan_to_null(next_ret)}
        for fold, ts, prediction, next_ret in zip(rows.fold, rows.ts, rows.prediction, rows.next_ret,
                                                  strict=True)
    )
    statement = insert(version_oos_predictions)
    while chunk := list(islice(prepared, INSERT_CHUNK)):
        conn.execute(statement, chunk)  # a list of rows: one executemany
    return len(rows)


class OosPredictionsMixin(BrainPart):
    def oos_predictions(self, version_id: int) -> OutOfSampleRecord | None:
        """The version's out-of-sample rows in bar order; None when it has none stored (a version
        trained before the brain kept them)."""
        query = (
            select(version_oos_predictions.c.fold, version_oos_predictions.c.ts,
                   version_oos_predictions.c.prediction, version_oos_predictions.c.next_ret)
            .where(version_oos_predictions.c.version_id == version_id)
            .order_by(version_oos_predictions.c.ts)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return None
        fold, ts, prediction, next_ret = zip(*rows, strict=True)
        return OutOfSampleRecord(fold=fold, ts=ts, prediction=prediction, next_ret=next_ret)

"""Regime labels in the brain: each bar's causal label per axis, for one series and one labelling
configuration (`config_key`, named by the caller: a hash of what changes the labels).

Labels are written in bulk with upserts (a bar written again replaces its label), and read back
per series and axis over a range of bars, the table's primary key order.
"""

from __future__ import annotations

from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from brain.errors import BrainError
from brain.part import BrainPart
from brain.schema import regime_labels
from brain.upsert import insert_on_conflict

if TYPE_CHECKING:
    import polars as pl

# Rows per executemany (a minute series has hundreds of thousands of bars).
INSERT_CHUNK = 5000
_KEY = ("symbol", "timeframe", "config_key", "axis", "ts")


class RegimesMixin(BrainPart):
    def store_regime_labels(self, symbol: str, timeframe: str, config_key: str, labels: pl.DataFrame) -> int:
        """Upsert `labels` (ts, then one Utf8 column per axis; null: no label at that bar) in one
        transaction; returns the rows written (bars x axes)."""
        import polars as pl  # where frames are handled, not with the brain: the console never needs it

        if "ts" not in labels.columns:
            raise BrainError(f"regime labels for {symbol} {timeframe} lack a ts column")
        ts_type = labels.schema["ts"]
        if not isinstance(ts_type, pl.Datetime):
            raise BrainError(f"regime labels for {symbol} {timeframe}: ts must be a Datetime, not {ts_type}")
        if labels["ts"].is_duplicated().any():
            raise BrainError(f"regime labels for {symbol} {timeframe} repeat a ts")
        ts = pl.col("ts")
        ts = ts.dt.replace_time_zone("UTC") if ts_type.time_zone is None else ts.dt.convert_time_zone("UTC")
        axes = [name for name in labels.columns if name != "ts"]
        long = labels.with_columns(ts).unpivot(index="ts", on=axes, variable_name="axis", value_name="label")
        rows = (
            {"symbol": symbol, "timeframe": timeframe, "config_key": config_key, **row}
            for row in long.iter_rows(named=True)
        )
        written = 0
        with self._write() as conn:
            statement = insert_on_conflict(conn, regime_labels)
            statement = statement.on_conflict_do_update(
                index_elements=list(_KEY), set_={"label": statement.excluded.label}
            )
            while chunk := list(islice(rows, INSERT_CHUNK)):
                conn.execute(statement, chunk)  # a list of rows: one executemany
                written += len(chunk)
        return written

    def load_regime_labels(
        self,
        symbol: str,
        timeframe: str,
        config_key: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        last: int | None = None,
    ) -> pl.DataFrame:
        """ts (UTC) and one Utf8 column per stored axis (in axis name order), sorted by ts;
        `since` / `until` are inclusive bounds, `last` keeps the newest `last` labelled bars.
        Empty (ts only) when nothing is stored."""
        import polars as pl

        series = (
            regime_labels.c.symbol == symbol,
            regime_labels.c.timeframe == timeframe,
            regime_labels.c.config_key == config_key,
        )
        query = select(regime_labels.c.ts, regime_labels.c.axis, regime_labels.c.label).where(*series)
        if last is not None:
            newest = (select(regime_labels.c.ts).where(*series).distinct()
                      .order_by(regime_labels.c.ts.desc()).limit(last).subquery())
            query = query.where(regime_labels.c.ts >= select(func.min(newest.c.ts)).scalar_subquery())
        if since is not None:
            query = query.where(regime_labels.c.ts >= since)
        if until is not None:
            query = query.where(regime_labels.c.ts <= until)
        with self._read() as conn:
            rows = conn.execute(query.order_by(regime_labels.c.axis, regime_labels.c.ts)).all()
        long = pl.DataFrame(
            {"ts": [r[0] for r in rows], "axis": [r[1] for r in rows], "label": [r[2] for r in rows]},
            schema={"ts": pl.Datetime("us", "UTC"), "axis": pl.String, "label": pl.String},
        )
        if long.is_empty():
            return pl.DataFrame({"ts": []}, schema={"ts": pl.Datetime("us", "UTC")})
        wide = long.pivot(on="axis", index="ts", values="label", sort_columns=True)
        return wide.sort("ts")

    def regime_labels_extent(
        self, symbol: str, timeframe: str, config_key: str
    ) -> dict[str, tuple[int, datetime]]:
        """axis -> (bars stored, newest ts) for one series and configuration."""
        query = (
            select(regime_labels.c.axis, func.count(), func.max(regime_labels.c.ts))
            .where(
                regime_labels.c.symbol == symbol,
                regime_labels.c.timeframe == timeframe,
                regime_labels.c.config_key == config_key,
            )
            .group_by(regime_labels.c.axis)
        )
        with self._read() as conn:
            return {axis: (count, newest) for axis, count, newest in conn.execute(query)}

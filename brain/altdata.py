"""Alternative data in the brain: funding rates, open interest, liquidations, sentiment scores,
each kind in its own table keyed by (symbol, ts) (migration 3 says why)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Table, func, select

from brain.errors import BrainError
from brain.part import BrainPart
from brain.schema import funding_rates, liquidations, open_interest, sentiment_scores
from brain.upsert import insert_on_conflict

if TYPE_CHECKING:
    import polars as pl

# kind -> (table, value columns). The engine's engine.altdata.ALT_KINDS names the same kinds and
# columns; a test keeps the two in step (the brain does not import the engine).
ALT_DATA_TABLES: dict[str, tuple[Table, tuple[str, ...]]] = {
    "funding_rate": (funding_rates, ("rate",)),
    "open_interest": (open_interest, ("open_interest",)),
    "liquidations": (liquidations, ("long_usd", "short_usd")),
    "sentiment": (sentiment_scores, ("score",)),
}


def _kind(kind: str) -> tuple[Table, tuple[str, ...]]:
    if kind not in ALT_DATA_TABLES:
        raise BrainError(f"unknown alternative data kind {kind!r}; known: {', '.join(ALT_DATA_TABLES)}")
    return ALT_DATA_TABLES[kind]


def _checked_frame(kind: str, values: tuple[str, ...], frame: pl.DataFrame) -> pl.DataFrame:
    import polars as pl  # where frames are handled, not with the brain: the console never needs it

    missing = [c for c in ("ts", "symbol", *values) if c not in frame.columns]
    if missing:
        raise BrainError(f"{kind} data lacks columns {missing}")
    ts_type = frame.schema["ts"]
    if not isinstance(ts_type, pl.Datetime):
        raise BrainError(f"{kind} data: ts must be a Datetime, not {ts_type}")
    ts = pl.col("ts")
    ts = ts.dt.replace_time_zone("UTC") if ts_type.time_zone is None else ts.dt.convert_time_zone("UTC")
    frame = frame.select(
        ts.alias("ts"), pl.col("symbol").cast(pl.String), *(pl.col(c).cast(pl.Float64) for c in values)
    )
    if frame["symbol"].null_count() or frame["ts"].null_count():
        raise BrainError(f"{kind} data has rows without a symbol or a ts")
    for name in values:
        if frame[name].null_count() or not frame[name].is_finite().all():
            raise BrainError(f"{kind} data: {name} must be a finite number on every row")
    if frame.select(pl.struct("symbol", "ts").is_duplicated().any()).item():
        raise BrainError(f"{kind} data repeats a (symbol, ts)")
    return frame


class AltDataMixin(BrainPart):
    def store_alt_data(self, kind: str, frame: pl.DataFrame) -> int:
        """Upsert rows (ts, symbol, value columns) of one kind in one transaction; a row at an
        existing (symbol, ts) replaces it. Returns the rows written."""
        table, values = _kind(kind)
        frame = _checked_frame(kind, values, frame)
        if frame.is_empty():
            return 0
        rows = list(frame.iter_rows(named=True))
        with self._write() as conn:
            statement = insert_on_conflict(conn, table)
            statement = statement.on_conflict_do_update(
                index_elements=["symbol", "ts"], set_={c: statement.excluded[c] for c in values}
            )
            conn.execute(statement, rows)
        return len(rows)

    def load_alt_data(
        self, kind: str, symbol: str, start: datetime | None = None, end: datetime | None = None
    ) -> pl.DataFrame:
        """Columns ts (UTC), symbol, value columns, sorted by ts; ``start`` and ``end`` are
        inclusive bounds on ts."""
        table, values = _kind(kind)
        query = select(table.c.ts, *(table.c[c] for c in values)).where(table.c.symbol == symbol)
        if start is not None:
            query = query.where(table.c.ts >= start)
        if end is not None:
            query = query.where(table.c.ts <= end)
        with self._read() as conn:
            rows = conn.execute(query.order_by(table.c.ts)).all()
        columns: list[tuple] = list(zip(*rows, strict=True)) if rows else [() for _ in range(1 + len(values))]
        data = {"ts": columns[0], "symbol": [symbol] * len(rows)}
        data.update({name: columns[i + 1] for i, name in enumerate(values)})
        import polars as pl

        schema: dict[str, pl.DataType | type[pl.DataType]] = {
            "ts": pl.Datetime("us", "UTC"), "symbol": pl.String, **{name: pl.Float64 for name in values}}
        return pl.DataFrame(data, schema=schema)

    def list_alt_series(self) -> list[tuple[str, str, int, datetime, datetime]]:
        """(kind, symbol, rows, first ts, last ts) per stored series, by kind then symbol."""
        series: list[tuple[str, str, int, datetime, datetime]] = []
        with self._read() as conn:
            for kind, (table, _values) in ALT_DATA_TABLES.items():
                query = (
                    select(table.c.symbol, func.count(), func.min(table.c.ts), func.max(table.c.ts))
                    .group_by(table.c.symbol)
                    .order_by(table.c.symbol)
                )
                series.extend((kind, *row) for row in conn.execute(query))
        return series

"""Market data kept in the brain, so a retrain months later reads exactly what it needs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from brain.errors import BrainError
from brain.part import BrainPart
from brain.schema import bars
from brain.upsert import insert_on_conflict

if TYPE_CHECKING:
    import polars as pl

# polars is imported where bars are handled, not with the brain: the console never needs it.
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")


def bars_schema() -> dict:
    import polars as pl

    return {"ts": pl.Datetime("us", "UTC"), "symbol": pl.String,
            **{name: pl.Float64 for name in PRICE_COLUMNS}}


def _utc_frame(symbol: str, timeframe: str, frame: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    missing = [c for c in ("ts", *PRICE_COLUMNS) if c not in frame.columns]
    if missing:
        raise BrainError(f"bars for {symbol} {timeframe} lack columns {missing}")
    ts_type = frame.schema["ts"]
    if not isinstance(ts_type, pl.Datetime):
        raise BrainError(f"bars for {symbol} {timeframe}: ts must be a Datetime, not {ts_type}")
    ts = pl.col("ts")
    # Naive timestamps are taken to be UTC, which is what the canonical OHLCV form promises.
    ts = ts.dt.replace_time_zone("UTC") if ts_type.time_zone is None else ts.dt.convert_time_zone("UTC")
    frame = frame.select(ts.alias("ts"), *(pl.col(c).cast(pl.Float64) for c in PRICE_COLUMNS))
    if frame["ts"].is_duplicated().any():
        raise BrainError(f"bars for {symbol} {timeframe} repeat a timestamp")
    return frame


class BarsMixin(BrainPart):
    def store_bars(self, symbol: str, timeframe: str, frame: pl.DataFrame) -> int:
        """Upsert OHLCV rows (a bar at an existing ts replaces it) in one transaction."""
        frame = _utc_frame(symbol, timeframe, frame)
        if frame.is_empty():
            return 0
        rows = [{"symbol": symbol, "timeframe": timeframe, **row} for row in frame.iter_rows(named=True)]
        with self._write() as conn:
            statement = insert_on_conflict(conn, bars)
            statement = statement.on_conflict_do_update(
                index_elements=["symbol", "timeframe", "ts"],
                set_={c: statement.excluded[c] for c in PRICE_COLUMNS},
            )
            conn.execute(statement, rows)  # a list of rows: one executemany
        return len(rows)

    def load_bars(
        self, symbol: str, timeframe: str, *, last: int | None = None, since: datetime | None = None
    ) -> pl.DataFrame:
        """Columns ts (UTC), symbol, open, high, low, close, volume, sorted by ts; with `last`,
        only the newest `last` bars (the live loop's tail window); with `since`, only the bars at
        or after it (what the live loop adds to the window it holds)."""
        query = (
            select(bars.c.ts, *(bars.c[c] for c in PRICE_COLUMNS))
            .where(bars.c.symbol == symbol, bars.c.timeframe == timeframe)
        )
        if since is not None:
            query = query.where(bars.c.ts >= since)
        if last is not None:
            query = query.order_by(bars.c.ts.desc()).limit(max(int(last), 0))
        else:
            query = query.order_by(bars.c.ts)
        with self._read() as conn:
            rows = list(conn.execute(query).all())
        if last is not None:
            rows.reverse()
        columns: list[tuple] = list(zip(*rows, strict=True)) if rows else [() for _ in range(6)]
        data = {"ts": columns[0], "symbol": [symbol] * len(rows)}
        data.update({name: columns[i + 1] for i, name in enumerate(PRICE_COLUMNS)})
        import polars as pl

        return pl.DataFrame(data, schema=bars_schema())

    def list_bar_series(self) -> list[tuple[str, str, int, datetime, datetime]]:
        """(symbol, timeframe, rows, first ts, last ts) per stored series."""
        query = (
            select(
                bars.c.symbol,
                bars.c.timeframe,
                func.count(),
                func.min(bars.c.ts),
                func.max(bars.c.ts),
            )
            .group_by(bars.c.symbol, bars.c.timeframe)
            .order_by(bars.c.symbol, bars.c.timeframe)
        )
        with self._read() as conn:
            return [tuple(row) for row in conn.execute(query)]

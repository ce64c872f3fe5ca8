"""Alternative data beside the bars: funding rates, open interest, liquidations, sentiment.

Each kind is a frame of ``ts`` (UTC), ``symbol`` and its value columns. Joining it to bars is
as-of and backward only: a bar at time t sees the latest alt row stamped at or before t, never
one after, so a model trained on the joined frame cannot peek ahead. Bars are labelled by their
start, so this is the conservative reading: a value published during the bar is first seen by
the next bar.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl

from engine.data import (
    _TIMESTAMP_NAMES,
    DataError,
    _format_ts,
    _normalise_name,
    _numeric_column,
    _parse_timestamp_column,
    _symbol_from_path,
)
from engine.sources import RetryOptions, read_file_table, symbol_column
from engine.timestamps import UTC_MICROS

# kind -> its value columns, in order. Names are the ones the brain stores them under.
ALT_KINDS: dict[str, tuple[str, ...]] = {
    "funding_rate": ("rate",),
    "open_interest": ("open_interest",),
    "liquidations": ("long_usd", "short_usd"),
    "sentiment": ("score",),
}
# Quantities that cannot be negative; rates and scores can.
_NON_NEGATIVE = {"open_interest", "long_usd", "short_usd"}


def alt_columns(kind: str) -> tuple[str, ...]:
    if kind not in ALT_KINDS:
        raise ValueError(f"unknown alternative data kind {kind!r}; known: {', '.join(ALT_KINDS)}")
    return ALT_KINDS[kind]


def read_alt_data(
    path: str | Path, kind: str, symbol: str | None = None, *, retries: RetryOptions | None = None
) -> pl.DataFrame:
    """Read a CSV / Parquet file of one alt-data kind: ts, symbol, value columns, sorted by
    (symbol, ts). Headers are matched case-insensitively; the timestamp column is found as in
    load_ohlcv; the symbol is the file's `symbol` column, else ``symbol``, else the file name's
    stem up to its first '_'. Anything wrong raises DataError naming the file, row and value."""
    values = alt_columns(kind)
    path = Path(path)
    source = str(path)
    table = read_file_table(path, retries)
    named = {_normalise_name(name): name for name in reversed(table.columns)}
    ts_name = next((name for name in table.columns if _normalise_name(name) in _TIMESTAMP_NAMES), None)
    missing = [value for value in values if value not in named]
    if ts_name is None:
        missing.insert(0, "timestamp (Date/Datetime/Timestamp/Time/ts)")
    if missing:
        raise DataError(f"{source}: missing column(s) for {kind}: {', '.join(missing)}")
    symbols_from = symbol_column(table)
    if symbols_from is not None:
        symbols = table[symbols_from].cast(pl.String).str.strip_chars()
        if symbols.is_null().any() or (symbols == "").any():
            index = int((symbols.is_null() | (symbols == "")).arg_true()[0])
            raise DataError(f"{source}: missing symbol at row {index + 1}")
    else:
        symbols = pl.Series([symbol or _symbol_from_path(path)] * table.height, dtype=pl.String)
    frame = pl.DataFrame(
        {
            "ts": _parse_timestamp_column(table[ts_name], source),
            "symbol": symbols,
            **{value: _numeric_column(table[named[value]], value, source) for value in values},
        }
    )
    return validate_alt_frame(frame, kind, source)


def validate_alt_frame(frame: pl.DataFrame, kind: str, source: str = "alt data") -> pl.DataFrame:
    """Check a frame of one kind (columns, finite values, signs, one row per (symbol, ts)) and
    return it with ts as UTC, sorted by (symbol, ts)."""
    values = alt_columns(kind)
    missing = [name for name in ("ts", "symbol", *values) if name not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) for {kind}: {', '.join(missing)}")
    if not isinstance(frame.schema["ts"], pl.Datetime):
        raise DataError(f"{source}: ts must be a datetime column, not {frame.schema['ts']}")
    ts = pl.col("ts")
    ts = (
        ts.dt.replace_time_zone("UTC")
        if frame.schema["ts"].time_zone is None
        else ts.dt.convert_time_zone("UTC")
    )
    frame = frame.select(
        ts.cast(UTC_MICROS),
        pl.col("symbol").cast(pl.String),
        *(pl.col(value).cast(pl.Float64) for value in values),
    )
    for value in values:
        bad = frame[value].is_null() | ~frame[value].is_finite().fill_null(False)
        if value in _NON_NEGATIVE:
            bad = bad | (frame[value] < 0).fill_null(False)
        if bad.any():
            index = int(bad.arg_true()[0])
            raise DataError(
                f"{source}: bad {value} {frame[value][index]} at row {index + 1} ({_format_ts(frame, index)})"
            )
    repeated = ~frame.select(pl.struct("symbol", "ts").is_first_distinct()).to_series()
    if repeated.any():
        index = int(repeated.arg_true()[0])
        raise DataError(
            f"{source}: duplicate timestamp {_format_ts(frame, index)} for "
            f"{frame['symbol'][index]} at row {index + 1}"
        )
    return frame.sort("symbol", "ts")


def join_asof(
    bars: pl.DataFrame, alt: pl.DataFrame, tolerance: str | timedelta | None = None
) -> pl.DataFrame:
    """``bars`` with the value columns of ``alt`` joined as of each bar, per symbol.

    A bar at t gets the alt row with the greatest ts <= t of its symbol (polars join_asof,
    strategy "backward"); with ``tolerance`` (e.g. "8h") a row older than that is not used.
    Bars with nothing to see get nulls. The bars keep their order and their values.
    """
    values = [name for name in alt.columns if name not in ("ts", "symbol")]
    clash = [name for name in values if name in bars.columns]
    if clash:
        raise ValueError(f"alt data columns {clash} are already columns of the bars; rename them first")
    for name, frame in (("bars", bars), ("alt", alt)):
        if "ts" not in frame.columns or "symbol" not in frame.columns:
            raise ValueError(f"{name} need ts and symbol columns")
    if bars.height and (bars["symbol"] == bars["symbol"][0]).all() and bars["ts"].is_sorted():
        # One symbol's bars in time order (the live loop's tail window, a version's series): no
        # grouping and no reordering, several times cheaper on a small frame. Same rows out.
        symbol = bars["symbol"][0]
        right = (
            alt.filter(pl.col("symbol") == symbol)
            .select("ts", *values)
            .with_columns(pl.col("ts").cast(UTC_MICROS))
            .sort("ts")
        )
        joined = bars.with_columns(pl.col("ts").cast(UTC_MICROS)).set_sorted("ts").join_asof(
            right, on="ts", strategy="backward", tolerance=tolerance, check_sortedness=False
        )
        return joined.with_columns(pl.col("ts").cast(bars.schema["ts"]))
    ordered = (
        bars.with_row_index("_bar_order").with_columns(pl.col("ts").cast(UTC_MICROS)).sort("symbol", "ts")
    )
    right = (
        alt.select("ts", "symbol", *values).with_columns(pl.col("ts").cast(UTC_MICROS)).sort("symbol", "ts")
    )
    joined = ordered.join_asof(
        right, on="ts", by="symbol", strategy="backward", tolerance=tolerance, check_sortedness=False
    )
    return joined.sort("_bar_order").drop("_bar_order").with_columns(pl.col("ts").cast(bars.schema["ts"]))

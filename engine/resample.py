"""Coarser bars from finer ones, and several symbols on one clock.

Resampled bars follow the usual OHLCV rules: open = first, high = max, low = min, close = last,
volume = sum, per symbol. A bar is labelled by the start of its period (as every bar in Huracan
is): periods are aligned to the UNIX epoch in UTC, so days start at 00:00 UTC, 4h bars at
00:00, 04:00, …, weeks on Monday 00:00 UTC and months on the 1st.

Only complete information: the first and the last period of each symbol are kept only when the
source bars cover them from start to end (the first source bar starts at the period's start;
the last one ends at or after the period's end). A period at the end of the data that has not
finished yet would change when the next source bar arrives, and one at the start that the data
joins half way has the wrong open; both are dropped (``keep_partial=True`` keeps them). Periods
in the middle are kept whatever their number of source bars: silences inside the data are
market closures or gaps, which engine.quality reports. With ``calendar="weekdays"`` a weekend
closure between the last source bar and the end of the last period counts as covered, so the
last week of stock data is kept when it ends on a Friday.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from engine.calendars import BarStep, bar_step, check_calendar, is_weekend_closure
from engine.data import CANONICAL_COLUMNS, VALUE_COLUMNS
from engine.timeframes import infer_timeframe

_AGGREGATIONS = [
    pl.col("open").first(),
    pl.col("high").max(),
    pl.col("low").min(),
    pl.col("close").last(),
    pl.col("volume").sum(),
]


def resample_ohlcv(
    frame: pl.DataFrame,
    timeframe: str,
    *,
    source_timeframe: str | None = None,
    keep_partial: bool = False,
    calendar: str = "24/7",
) -> pl.DataFrame:
    """Bars of ``timeframe`` from the canonical frame ``frame`` (one or many symbols).

    ``source_timeframe`` is the bar length of ``frame`` (inferred per symbol when None); the new
    one must be a whole multiple of it (1h -> 4h, 1d, 1w; 1d -> 1w, 1mo), else ValueError.
    Returns canonical columns sorted by (symbol, ts).
    """
    check_calendar(calendar)
    target = bar_step(timeframe)
    _check_canonical(frame)
    parts = []
    for _symbol, bars in frame.sort("symbol", "ts").group_by("symbol", maintain_order=True):
        source = bar_step(source_timeframe or infer_timeframe(bars))
        _check_nesting(source, target)
        parts.append(_resample_symbol(bars, source, target, keep_partial, calendar))
    if not parts:
        return frame.select(CANONICAL_COLUMNS).clear()
    return pl.concat(parts).select(CANONICAL_COLUMNS)


def _check_canonical(frame: pl.DataFrame) -> None:
    missing = [name for name in CANONICAL_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"resampling needs the canonical columns; missing {missing}")
    if frame.select(pl.col(CANONICAL_COLUMNS).null_count().sum()).sum_horizontal().item():
        raise ValueError(
            "resampling needs complete bars; some values are missing (see `huracan data validate`)"
        )
    if not frame.select(pl.struct("symbol", "ts").is_unique().all()).item():
        raise ValueError("resampling needs one bar per (symbol, ts); some timestamps repeat")


def _check_nesting(source: BarStep, target: BarStep) -> None:
    if source.fixed is not None and target.fixed is not None:
        nests = target.fixed > source.fixed and target.fixed % source.fixed == timedelta(0)
    elif source.fixed is not None:  # into months or years: whole days nest in them
        nests = timedelta(days=1) % source.fixed == timedelta(0)
    elif target.fixed is not None:
        nests = False
    else:
        nests = target.months > source.months and target.months % source.months == 0
    if not nests:
        raise ValueError(
            f"cannot resample {source.timeframe} bars to {target.timeframe}: "
            f"{target.timeframe} is not a whole multiple of {source.timeframe}"
        )


def _resample_symbol(
    bars: pl.DataFrame, source: BarStep, target: BarStep, keep_partial: bool, calendar: str
) -> pl.DataFrame:
    resampled = (
        bars.group_by_dynamic(
            "ts",
            every=target.timeframe,
            period=target.timeframe,
            closed="left",
            label="left",
            start_by="window",
        )
        .agg(*_AGGREGATIONS)
        .with_columns(symbol=pl.lit(bars["symbol"][0]))
    )
    if keep_partial or resampled.is_empty():
        return resampled
    first_start, last_start = resampled["ts"][0], resampled["ts"][-1]
    covered_until = bars["ts"].dt.offset_by(source.timeframe).max()
    period_end = resampled["ts"].dt.offset_by(target.timeframe)[-1]
    keep_first = bars["ts"][0] == first_start
    keep_last = covered_until >= period_end or (
        calendar == "weekdays" and is_weekend_closure(covered_until, period_end)
    )
    return resampled.filter(
        ((pl.col("ts") != first_start) | keep_first) & ((pl.col("ts") != last_start) | keep_last)
    )


def align_symbols(frame: pl.DataFrame, how: str = "inner") -> pl.DataFrame:
    """Put every symbol of a canonical frame on one clock.

    ``how="inner"`` keeps only the timestamps every symbol has. ``how="outer"`` keeps every
    timestamp any symbol has; a symbol with no bar there gets a row whose OHLCV values are null:
    nothing is forward-filled, so a missing bar stays visibly missing. Returns the canonical
    columns, sorted by (symbol, ts), the same timestamps for every symbol.
    """
    if how not in ("inner", "outer"):
        raise ValueError(f"how must be 'inner' or 'outer', not {how!r}")
    missing = [name for name in CANONICAL_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"aligning needs the canonical columns; missing {missing}")
    if not frame.select(pl.struct("symbol", "ts").is_unique().all()).item():
        raise ValueError("aligning needs one bar per (symbol, ts); some timestamps repeat")
    symbols = frame.select(pl.col("symbol").unique().sort())
    counts = frame.group_by("ts").agg(pl.len().alias("symbols"))
    if how == "inner":
        counts = counts.filter(pl.col("symbols") == symbols.height)
    clock = symbols.join(counts.select("ts"), how="cross")
    aligned = clock.join(frame.select(CANONICAL_COLUMNS), on=["symbol", "ts"], how="left")
    return (
        aligned.select(CANONICAL_COLUMNS)
        .sort("symbol", "ts")
        .cast({name: pl.Float64 for name in VALUE_COLUMNS})
    )

"""Resampling follows the OHLCV rules (and pandas' resample), keeps only complete bars; aligning
puts symbols on one clock without inventing values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import polars as pl
import pytest

from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.resample import align_symbols, resample_ohlcv

T0 = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday


def hourly(symbol: str, closes: list[float], start: datetime = T0) -> pl.DataFrame:
    n = len(closes)
    return pl.DataFrame(
        {
            "ts": [start + timedelta(hours=i) for i in range(n)],
            "symbol": [symbol] * n,
            "open": [c - 0.5 for c in closes],
            "high": [c + 1.0 + (i % 3) for i, c in enumerate(closes)],
            "low": [c - 1.0 - (i % 2) for i, c in enumerate(closes)],
            "close": closes,
            "volume": [10.0 * (i + 1) for i in range(n)],
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )


def test_four_hour_bars_by_hand():
    bars = hourly("AAA", [10, 11, 12, 13, 14, 15, 16, 17])
    out = resample_ohlcv(bars, "4h")
    # highs c + 1 + i%3: 11, 13, 15, 14 | 16, 18, 17, 19; lows c - 1 - i%2: 9, 9, 11, 11 | 13, 13, 15, 15
    assert out.rows() == [
        (T0, "AAA", 9.5, 15.0, 9.0, 13.0, 100.0),
        (T0 + timedelta(hours=4), "AAA", 13.5, 19.0, 13.0, 17.0, 260.0),
    ]
    assert out.columns == ["ts", "symbol", "open", "high", "low", "close", "volume"]


def test_partial_first_and_last_periods_are_dropped_unless_kept():
    bars = hourly("AAA", [10, 11, 12, 13, 14, 15], start=T0 + timedelta(hours=1))  # 01:00 .. 06:00
    assert resample_ohlcv(bars, "4h").height == 0  # joins the first half way, stops before the second's end
    bars = hourly("AAA", [10, 11, 12, 13, 14, 15, 16], start=T0 + timedelta(hours=1))  # 01:00 .. 07:00
    assert resample_ohlcv(bars, "4h")["ts"].to_list() == [T0 + timedelta(hours=4)]  # 07:00 ends at 08:00
    bars = hourly("AAA", [float(c) for c in range(10, 20)])  # 00:00 .. 09:00
    complete = resample_ohlcv(bars, "4h")
    assert complete["ts"].to_list() == [T0, T0 + timedelta(hours=4)]  # 08:00-12:00 has not finished
    kept = resample_ohlcv(bars, "4h", keep_partial=True)
    assert kept["ts"].to_list()[-1] == T0 + timedelta(hours=8)
    assert kept.row(-1)[2:] == (17.5, 21.0, 17.0, 19.0, 190.0)  # what the two hours hold, shown as it is


def test_symbols_are_resampled_apart():
    both = pl.concat(
        [hourly("BBB", [float(c) for c in range(8)]), hourly("AAA", [float(c) for c in range(20, 28)])]
    )
    out = resample_ohlcv(both, "4h")
    assert out["symbol"].to_list() == ["AAA", "AAA", "BBB", "BBB"]
    assert (
        out.filter(pl.col("symbol") == "BBB")
        .drop("symbol")
        .equals(resample_ohlcv(hourly("BBB", [float(c) for c in range(8)]), "4h").drop("symbol"))
    )


def pandas_ohlcv(frame: pl.DataFrame, rule: str) -> pd.DataFrame:
    index = pd.DatetimeIndex(frame["ts"].to_list())
    source = pd.DataFrame(
        {c: frame[c].to_numpy() for c in ["open", "high", "low", "close", "volume"]}, index=index
    )
    rules = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    # pandas keeps empty periods (weekends) as NaN rows; ours has no row for them.
    return source.resample(rule, label="left", closed="left").agg(rules).dropna(subset=["open"])


@pytest.mark.parametrize(
    ("symbol", "timeframe", "rule", "partial_first", "partial_last"),
    [
        # W-MON with closed="left", label="left": weeks from Monday 00:00, labelled by that Monday.
        ("EURUSD", "1d", "1D", True, True),  # starts 09:00, ends 15:00
        ("EURUSD", "4h", "4h", True, False),  # starts 09:00 in 08:00-12:00; ends with the 15:00 bar
        ("GOOG", "1mo", "MS", True, True),  # starts 2004-08-19, ends 2013-03-01
        ("GOOG", "1w", "W-MON", True, True),  # starts on a Thursday, ends on a Friday (24/7 calendar)
    ],
)
def test_equals_pandas_resample_on_the_bundled_data(symbol, timeframe, rule, partial_first, partial_last):
    bars = load_ohlcv(bundled_path(symbol))
    ours = resample_ohlcv(bars, timeframe)
    theirs = pandas_ohlcv(bars, rule)
    # pandas keeps the partial first and last periods; ours drops them.
    theirs = theirs.iloc[int(partial_first) : len(theirs) - int(partial_last)]
    assert [t.to_pydatetime() for t in theirs.index] == ours["ts"].to_list()
    for column in ["open", "high", "low", "close", "volume"]:
        np.testing.assert_allclose(ours[column].to_numpy(), theirs[column].to_numpy(), rtol=0, atol=1e-12)
    kept = resample_ohlcv(bars, timeframe, keep_partial=True)
    assert kept.height == len(pandas_ohlcv(bars, rule))


def test_eurusd_daily_drops_the_partial_first_and_last_days():
    bars = load_ohlcv(bundled_path("EURUSD"))  # 2017-04-19 09:00 .. 2018-02-07 15:00
    daily = resample_ohlcv(bars, "1d")
    assert daily["ts"][0] == datetime(2017, 4, 20, tzinfo=UTC)
    assert daily["ts"][-1] == datetime(2018, 2, 6, tzinfo=UTC)


def test_a_week_that_ends_in_a_weekend_is_complete_on_a_weekdays_calendar():
    bars = load_ohlcv(bundled_path("GOOG"))  # ends Friday 2013-03-01
    last_week = datetime(2013, 2, 25, tzinfo=UTC)
    assert resample_ohlcv(bars, "1w")["ts"][-1] == last_week - timedelta(days=7)
    assert resample_ohlcv(bars, "1w", calendar="weekdays")["ts"][-1] == last_week


@pytest.mark.parametrize(("source", "target"), [("1h", "90m"), ("1d", "1h"), ("1w", "1mo"), ("1h", "1h")])
def test_timeframes_that_do_not_nest_are_refused(source, target):
    bars = hourly("AAA", [float(c) for c in range(10)])
    with pytest.raises(ValueError, match=f"cannot resample {source} bars to {target}"):
        resample_ohlcv(bars, target, source_timeframe=source)


def test_incomplete_frames_are_refused():
    bars = hourly("AAA", [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="some timestamps repeat"):
        resample_ohlcv(pl.concat([bars, bars.head(1)]), "4h")
    with pytest.raises(ValueError, match="some values are missing"):
        resample_ohlcv(
            bars.with_columns(close=pl.when(pl.col("close") > 2).then(None).otherwise("close")), "4h"
        )


def test_align_inner_keeps_common_times_and_outer_leaves_holes_visible():
    a = hourly("AAA", [1.0, 2.0, 3.0, 4.0])
    b = hourly("BBB", [5.0, 6.0, 7.0], start=T0 + timedelta(hours=1)).filter(pl.col("close") != 6.0)
    inner = align_symbols(pl.concat([b, a]), "inner")
    assert inner.select("symbol", "ts", "close").rows() == [
        ("AAA", T0 + timedelta(hours=1), 2.0),
        ("AAA", T0 + timedelta(hours=3), 4.0),
        ("BBB", T0 + timedelta(hours=1), 5.0),
        ("BBB", T0 + timedelta(hours=3), 7.0),
    ]
    outer = align_symbols(pl.concat([b, a]), "outer")
    assert outer.height == 8
    assert outer.filter(pl.col("symbol") == "BBB")["close"].to_list() == [None, 5.0, None, 7.0]
    missing = outer.filter(pl.col("close").is_null())
    assert missing.select(pl.col(["open", "high", "low", "volume"]).null_count()).row(0) == (2, 2, 2, 2)
    assert (
        outer.filter(pl.col("close").is_not_null())
        .sort("symbol", "ts")
        .equals(pl.concat([a, b]).sort("symbol", "ts"))
    )
    with pytest.raises(ValueError, match="how must be 'inner' or 'outer'"):
        align_symbols(a, "left")

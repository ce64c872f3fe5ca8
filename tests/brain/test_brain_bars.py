"""Market data round trips through the brain unchanged, and re-imports replace bars."""

import time
from datetime import UTC, datetime

import polars as pl
import pytest

from brain import BrainError

ROWS = 5_000


def _synthetic_bars(rows: int = ROWS, start: str = "2010-01-01") -> pl.DataFrame:
    ts = pl.datetime_range(
        pl.lit(start).str.to_datetime(time_zone="UTC"),
        pl.lit(start).str.to_datetime(time_zone="UTC") + pl.duration(days=rows - 1),
        "1d",
        eager=True,
        time_unit="us",
    )
    close = pl.Series([100.0 + 0.01 * i + (i % 7) * 0.3 for i in range(rows)])
    return pl.DataFrame(
        {
            "ts": ts,
            "open": close - 0.5,
            "high": close + 1.0,
            "low": close - 1.0,
            "close": close,
            "volume": pl.Series([float(1_000 + i) for i in range(rows)]),
        }
    )


def test_bars_round_trip(brain):
    frame = _synthetic_bars()
    started = time.perf_counter()
    assert brain.store_bars("GOOG", "1d", frame) == ROWS
    loaded = brain.load_bars("GOOG", "1d")
    elapsed = time.perf_counter() - started
    assert loaded.schema == pl.Schema(
        {
            "ts": pl.Datetime("us", "UTC"),
            "symbol": pl.String,
            "open": pl.Float64,
            "high": pl.Float64,
            "low": pl.Float64,
            "close": pl.Float64,
            "volume": pl.Float64,
        }
    )
    assert loaded.drop("symbol").equals(frame)
    assert loaded["symbol"].unique().to_list() == ["GOOG"]
    assert elapsed < 10, f"5,000 bars took {elapsed:.1f}s to store and load"


def test_storing_again_replaces_bars_at_the_same_ts(brain):
    frame = _synthetic_bars(10)
    brain.store_bars("GOOG", "1d", frame)
    revised = frame.tail(3).with_columns(pl.col("close") * 2)
    later = _synthetic_bars(2, start="2010-01-11")
    brain.store_bars("GOOG", "1d", pl.concat([revised, later]))
    loaded = brain.load_bars("GOOG", "1d")
    assert loaded.height == 12
    assert loaded["close"].to_list()[7:10] == revised["close"].to_list()
    assert loaded["ts"].is_sorted()


def test_series_are_listed_and_kept_apart(brain):
    brain.store_bars("GOOG", "1d", _synthetic_bars(30))
    brain.store_bars("GOOG", "1h", _synthetic_bars(5))
    brain.store_bars("AAPL", "1d", _synthetic_bars(7, start="2015-06-01"))
    assert brain.list_bar_series() == [
        ("AAPL", "1d", 7, datetime(2015, 6, 1, tzinfo=UTC), datetime(2015, 6, 7, tzinfo=UTC)),
        ("GOOG", "1d", 30, datetime(2010, 1, 1, tzinfo=UTC), datetime(2010, 1, 30, tzinfo=UTC)),
        ("GOOG", "1h", 5, datetime(2010, 1, 1, tzinfo=UTC), datetime(2010, 1, 5, tzinfo=UTC)),
    ]
    assert brain.load_bars("GOOG", "1h").height == 5


def test_missing_series_loads_as_an_empty_frame(brain):
    empty = brain.load_bars("NOPE", "1d")
    assert empty.is_empty()
    assert empty.columns == ["ts", "symbol", "open", "high", "low", "close", "volume"]
    assert empty.schema["ts"] == pl.Datetime("us", "UTC")


def test_naive_and_foreign_zone_timestamps_are_stored_as_utc(brain):
    frame = _synthetic_bars(3)
    brain.store_bars("N", "1d", frame.with_columns(pl.col("ts").dt.replace_time_zone(None)))
    brain.store_bars("Z", "1d", frame.with_columns(pl.col("ts").dt.convert_time_zone("Asia/Tokyo")))
    assert brain.load_bars("N", "1d")["ts"].equals(frame["ts"])
    assert brain.load_bars("Z", "1d")["ts"].equals(frame["ts"])


def test_bad_frames_are_refused_whole(brain):
    frame = _synthetic_bars(3)
    with pytest.raises(BrainError, match="lack columns \\['volume'\\]"):
        brain.store_bars("GOOG", "1d", frame.drop("volume"))
    with pytest.raises(BrainError, match="repeat a timestamp"):
        brain.store_bars("GOOG", "1d", pl.concat([frame, frame.head(1)]))
    with_null = frame.with_columns(
        pl.when(pl.col("close") > 100.015).then(None).otherwise(pl.col("close")).alias("close")
    )
    with pytest.raises(BrainError):
        brain.store_bars("GOOG", "1d", with_null)
    assert brain.load_bars("GOOG", "1d").is_empty()

"""Alternative data round trips through the brain per kind, re-imports replace rows, and bad
frames are refused whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from brain import BrainError
from brain.altdata import ALT_DATA_TABLES

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def frame(
    kind: str, symbol: str = "BTCUSDT", n: int = 24, start: datetime = T0, scale: float = 1.0
) -> pl.DataFrame:
    _table, columns = ALT_DATA_TABLES[kind]
    return pl.DataFrame(
        {
            "ts": [start + timedelta(hours=8 * i) for i in range(n)],
            "symbol": [symbol] * n,
            **{c: [scale * (j + 1) * (i + 0.5) for i in range(n)] for j, c in enumerate(columns)},
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )


@pytest.mark.parametrize("kind", list(ALT_DATA_TABLES))
def test_each_kind_round_trips(brain, kind):
    data = frame(kind)
    assert brain.store_alt_data(kind, data) == 24
    loaded = brain.load_alt_data(kind, "BTCUSDT")
    assert loaded.equals(data)
    assert brain.load_alt_data(kind, "ETHUSDT").is_empty()
    assert brain.load_alt_data(kind, "ETHUSDT").columns == data.columns


def test_storing_again_replaces_rows_at_the_same_time_and_symbols_stay_apart(brain):
    brain.store_alt_data("funding_rate", frame("funding_rate", n=5))
    brain.store_alt_data("funding_rate", frame("funding_rate", symbol="ETHUSDT", n=3))
    brain.store_alt_data("funding_rate", frame("funding_rate", n=2, start=T0 + timedelta(hours=32), scale=-1))
    loaded = brain.load_alt_data("funding_rate", "BTCUSDT")
    assert loaded.height == 6
    assert loaded["rate"].to_list() == [0.5, 1.5, 2.5, 3.5, -0.5, -1.5]
    assert brain.list_alt_series() == [
        ("funding_rate", "BTCUSDT", 6, T0, T0 + timedelta(hours=40)),
        ("funding_rate", "ETHUSDT", 3, T0, T0 + timedelta(hours=16)),
    ]


def test_start_and_end_are_inclusive_bounds(brain):
    brain.store_alt_data("sentiment", frame("sentiment"))
    window = brain.load_alt_data(
        "sentiment", "BTCUSDT", start=T0 + timedelta(hours=16), end=T0 + timedelta(days=2)
    )
    assert window["ts"].to_list() == [T0 + timedelta(hours=h) for h in (16, 24, 32, 40, 48)]


def test_naive_times_are_utc_and_foreign_zones_are_converted(brain):
    data = frame("open_interest", n=3)
    brain.store_alt_data("open_interest", data.with_columns(pl.col("ts").dt.replace_time_zone(None)))
    brain.store_alt_data(
        "open_interest",
        data.with_columns(pl.col("ts").dt.convert_time_zone("Asia/Tokyo"), symbol=pl.lit("T")),
    )
    assert brain.load_alt_data("open_interest", "BTCUSDT")["ts"].equals(data["ts"])
    assert brain.load_alt_data("open_interest", "T")["ts"].equals(data["ts"])


def test_bad_frames_are_refused_whole(brain):
    data = frame("liquidations", n=4)
    with pytest.raises(BrainError, match="liquidations data lacks columns \\['short_usd'\\]"):
        brain.store_alt_data("liquidations", data.drop("short_usd"))
    with pytest.raises(BrainError, match="repeats a \\(symbol, ts\\)"):
        brain.store_alt_data("liquidations", pl.concat([data, data.tail(1)]))
    with pytest.raises(BrainError, match="long_usd must be a finite number on every row"):
        brain.store_alt_data(
            "liquidations", data.with_columns(long_usd=pl.Series([1.0, float("nan"), 2.0, 3.0]))
        )
    with pytest.raises(BrainError, match="unknown alternative data kind 'tweets'"):
        brain.store_alt_data("tweets", data)
    assert brain.load_alt_data("liquidations", "BTCUSDT").is_empty()

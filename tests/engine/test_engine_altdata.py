"""Alternative data reads with validation, and joins to bars as of each bar, never ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from brain.altdata import ALT_DATA_TABLES
from engine.altdata import ALT_KINDS, join_asof, read_alt_data, validate_alt_frame
from engine.data import DataError

T0 = datetime(2024, 1, 1, tzinfo=UTC)
US = pl.Datetime("us", "UTC")


def bars(symbol: str, hours: int = 6) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts": [T0 + timedelta(hours=h) for h in range(hours)],
            "symbol": [symbol] * hours,
            "close": [100.0 + h for h in range(hours)],
        },
        schema_overrides={"ts": US},
    )


def alt(rows: list[tuple[datetime, str, float]], name: str = "rate") -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"ts": US, "symbol": pl.String, name: pl.Float64}, orient="row")


def test_the_engine_and_the_brain_name_the_same_kinds_and_columns():
    assert {kind: columns for kind, (_table, columns) in ALT_DATA_TABLES.items()} == ALT_KINDS


@pytest.mark.parametrize(
    ("kind", "header", "line", "values"),
    [
        ("funding_rate", "timestamp,Symbol,Rate", "2024-01-01T08:00:00Z,BTCUSDT,0.0001", (0.0001,)),
        ("open_interest", "ts,symbol,open_interest", "1704096000000,BTCUSDT,51234.5", (51234.5,)),
        (
            "liquidations",
            "Date,symbol,long_usd,short_usd",
            "2024-01-01 08:00,BTCUSDT,1200000,35000.5",
            (1200000.0, 35000.5),
        ),
        ("sentiment", "time,symbol,score", "2024-01-01 08:00:00+00:00,BTCUSDT,-0.42", (-0.42,)),
    ],
)
def test_each_kind_reads_from_csv_and_parquet(tmp_path, kind, header, line, values):
    path = tmp_path / f"{kind}.csv"
    path.write_text(f"{header}\n{line}\n")
    frame = read_alt_data(path, kind)
    assert frame.columns == ["ts", "symbol", *ALT_KINDS[kind]]
    assert frame.row(0) == (datetime(2024, 1, 1, 8, tzinfo=UTC), "BTCUSDT", *values)
    frame.write_parquet(tmp_path / f"{kind}.parquet")
    assert read_alt_data(tmp_path / f"{kind}.parquet", kind).equals(frame)


def test_the_symbol_comes_from_the_argument_or_the_file_name(tmp_path):
    path = tmp_path / "ethusdt_funding.csv"
    path.write_text("ts,rate\n2024-01-01 16:00,0.0002\n2024-01-01 08:00,0.0001\n")
    assert read_alt_data(path, "funding_rate")["symbol"].to_list() == ["ETHUSDT", "ETHUSDT"]
    frame = read_alt_data(path, "funding_rate", symbol="ETH-PERP")
    assert frame["symbol"].unique().to_list() == ["ETH-PERP"]
    assert frame["rate"].to_list() == [0.0001, 0.0002]  # sorted by time


@pytest.mark.parametrize(
    ("kind", "content", "message"),
    [
        ("sentiment", "ts,symbol,mood\n2024-01-01,X,1\n", "missing column(s) for sentiment: score"),
        (
            "open_interest",
            "ts,symbol,open_interest\n2024-01-01,X,-5\n",
            "bad open_interest -5.0 at row 1 (2024-01-01)",
        ),
        ("funding_rate", "ts,symbol,rate\n2024-01-01,X,nan\n", "NaN in column rate at row 1"),
        (
            "funding_rate",
            "ts,symbol,rate\n2024-01-01,X,0.1\n2024-01-01,X,0.2\n",
            "duplicate timestamp 2024-01-01 for X at row 2",
        ),
        ("funding_rate", "ts,symbol,rate\nlater,X,0.1\n", "unparsable timestamp 'later' at row 1"),
        ("liquidations", "ts,symbol,long_usd,short_usd\n2024-01-01,,1,2\n", "missing symbol at row 1"),
    ],
)
def test_bad_files_are_one_line_naming_the_problem(tmp_path, kind, content, message):
    path = tmp_path / "alt.csv"
    path.write_text(content)
    with pytest.raises(DataError) as caught:
        read_alt_data(path, kind)
    assert str(caught.value) == f"{path}: {message}"
    with pytest.raises(ValueError, match="unknown alternative data kind 'tweets'"):
        read_alt_data(path, "tweets")


def test_a_row_exactly_at_the_bar_is_seen_one_microsecond_later_is_not():
    t = T0 + timedelta(hours=3)
    joined = join_asof(bars("BTC"), alt([(t, "BTC", 0.3), (t + timedelta(microseconds=1), "BTC", 0.4)]))
    assert joined["rate"].to_list() == [None, None, None, 0.3, 0.4, 0.4]
    joined = join_asof(bars("BTC"), alt([(t + timedelta(microseconds=1), "BTC", 0.3)]))
    assert joined["rate"].to_list() == [None, None, None, None, 0.3, 0.3]


def test_symbols_only_see_their_own_rows_and_bars_keep_their_order():
    both = pl.concat([bars("ETH"), bars("BTC")])
    rows = alt(
        [(T0, "BTC", 1.0), (T0 + timedelta(hours=2), "ETH", 2.0), (T0 - timedelta(days=1), "ETH", 3.0)]
    )
    joined = join_asof(both, rows)
    assert joined.drop("rate").equals(both)
    assert joined["rate"].to_list() == [3.0, 3.0, 2.0, 2.0, 2.0, 2.0] + [1.0] * 6


def test_tolerance_forgets_rows_that_are_too_old():
    joined = join_asof(bars("BTC"), alt([(T0, "BTC", 0.1)]), tolerance="2h")
    assert joined["rate"].to_list() == [0.1, 0.1, 0.1, None, None, None]
    assert (
        join_asof(bars("BTC"), alt([(T0, "BTC", 0.1)]), tolerance=timedelta(hours=1))["rate"].null_count()
        == 4
    )


def test_changing_future_alt_rows_never_changes_past_joined_values():
    rng = np.random.default_rng(3)
    symbols = ["BTC", "ETH"]
    bar_frame = pl.concat([bars(s, hours=200) for s in symbols])
    stamps = sorted(T0 + timedelta(minutes=int(m)) for m in rng.choice(200 * 60, 300, replace=False))
    rows = alt([(ts, symbols[i % 2], float(rng.normal())) for i, ts in enumerate(stamps)])
    before = join_asof(bar_frame, rows)
    # Brute force: the last row of the same symbol at or before each bar.
    for bar in before.sample(40, seed=1).iter_rows(named=True):
        seen = rows.filter((pl.col("symbol") == bar["symbol"]) & (pl.col("ts") <= bar["ts"]))
        assert bar["rate"] == (seen["rate"][-1] if seen.height else None)
    for cut_hours in (10, 50, 150):
        cut = T0 + timedelta(hours=cut_hours)
        future = pl.col("ts") > cut
        rewritten = pl.concat(
            [
                rows.with_columns(
                    rate=pl.when(future).then(pl.col("rate") * -7 + 1).otherwise(pl.col("rate"))
                ),
                alt(
                    [
                        (cut + timedelta(microseconds=1), "BTC", 99.0),
                        (cut + timedelta(minutes=30), "ETH", 98.0),
                    ]
                ),
            ]
        )
        after = join_asof(bar_frame, rewritten)
        past = pl.col("ts") <= cut
        assert after.filter(past).equals(before.filter(past))
        assert not after.filter(~past).equals(before.filter(~past))


def test_join_refuses_column_clashes_and_validate_refuses_bad_frames():
    with pytest.raises(ValueError, match="already columns of the bars"):
        join_asof(bars("BTC").with_columns(rate=pl.lit(1.0)), alt([(T0, "BTC", 0.1)]))
    with pytest.raises(DataError, match="missing column\\(s\\) for funding_rate: rate"):
        validate_alt_frame(alt([(T0, "BTC", 0.1)], name="value"), "funding_rate")
    naive = alt([(T0, "BTC", 0.1)]).with_columns(pl.col("ts").dt.replace_time_zone(None))
    assert validate_alt_frame(naive, "funding_rate")["ts"].to_list() == [T0]

"""load_ohlcv accepts files as people have them and rejects bad ones with one clear line."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from engine.data import CANONICAL_COLUMNS, DataError, data_fingerprint, load_ohlcv
from engine.datasets import BUNDLED, bundled_path

TS_DTYPE = pl.Datetime("us", "UTC")
VALUES = "10,11,9,10.5,1000\n"


def write(tmp_path: Path, text: str, name: str = "test_daily.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def day(d: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2024, 1, d, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("symbol", "rows", "first"),
    [("GOOG", 2148, "2004-08-19"), ("EURUSD", 5000, "2017-04-19"), ("BTCUSD", 156, "2012-01-31")],
)
def test_bundled_files_load_canonical(symbol, rows, first):
    frame = load_ohlcv(bundled_path(symbol))
    assert frame.columns == CANONICAL_COLUMNS
    assert frame.schema["ts"] == TS_DTYPE
    assert all(frame.schema[name] == pl.Float64 for name in CANONICAL_COLUMNS[2:])
    assert frame.height == rows
    assert frame["ts"].is_sorted() and frame["ts"].n_unique() == rows
    assert frame["symbol"].unique().to_list() == [symbol]
    assert frame["ts"][0].strftime("%Y-%m-%d") == first
    assert BUNDLED[symbol][0] == bundled_path(symbol).name


def test_bundled_path_unknown_symbol_names_known_ones():
    with pytest.raises(KeyError, match="GOOG"):
        bundled_path("NOPE")


def test_symbol_defaults_to_stem_before_underscore_and_can_be_given(tmp_path):
    path = write(tmp_path, "Date,Open,High,Low,Close,Volume\n2024-01-02," + VALUES, "aapl_1d.csv")
    assert load_ohlcv(path)["symbol"][0] == "AAPL"
    assert load_ohlcv(path, symbol="XYZ")["symbol"][0] == "XYZ"


@pytest.mark.parametrize(
    "header",
    ["Date,Open,High,Low,Close,Volume", "date,open,high,low,close,volume", "DATE,OPEN,HIGH,LOW,CLOSE,VOLUME",
     " Date , Open , High , Low , Close , Volume "],
)  # fmt: skip
def test_header_case_and_spacing_do_not_matter(tmp_path, header):
    frame = load_ohlcv(write(tmp_path, f"{header}\n2024-01-02,{VALUES}"))
    assert frame.row(0) == (day(2), "TEST", 10.0, 11.0, 9.0, 10.5, 1000.0)


@pytest.mark.parametrize(
    "name", ["", "Unnamed: 0", "Date", "Datetime", "timestamp", "TIME", "ts", "Timestamp"]
)
def test_timestamp_column_names(tmp_path, name):
    frame = load_ohlcv(write(tmp_path, f"{name},Open,High,Low,Close,Volume\n2024-01-02,{VALUES}"))
    assert frame["ts"].to_list() == [day(2)]


@pytest.mark.parametrize(
    ("stamps", "expected"),
    [
        (["2024-01-02", "2024-01-03"], [day(2), day(3)]),
        (["2024-01-02 09:30:00", "2024-01-02 10:30:00"], [day(2, 9, 30), day(2, 10, 30)]),
        (["2024-01-02T09:30:00", "2024-01-02T10:30:00"], [day(2, 9, 30), day(2, 10, 30)]),
        (["2024-01-02 09:30", "2024-01-02 10:30"], [day(2, 9, 30), day(2, 10, 30)]),
        (["2024-01-02T09:30:00+02:00", "2024-01-02T10:30:00-05:00"], [day(2, 7, 30), day(2, 15, 30)]),
        (["2024-01-02 09:30:00Z", "2024-01-02 10:30:00Z"], [day(2, 9, 30), day(2, 10, 30)]),
        (["2024-01-02T09:30:00.500+00:00", "2024-01-02T10:30:00+00:00"],
         [day(2, 9, 30).replace(microsecond=500000), day(2, 10, 30)]),
        (["01/02/2024", "1/3/2024"], [day(2), day(3)]),
        (["01/02/2024 09:30", "01/02/2024 10:30"], [day(2, 9, 30), day(2, 10, 30)]),
        (["01/02/2024 09:30:00", "01/02/2024 10:30:00"], [day(2, 9, 30), day(2, 10, 30)]),
        (["1704153600", "1704240000"], [day(2), day(3)]),  # unix seconds
        (["1704153600000", "1704240000000"], [day(2), day(3)]),  # unix milliseconds
        (["20240102", "20240103"], [day(2), day(3)]),  # YYYYMMDD integers
    ],
)  # fmt: skip
def test_timestamp_forms(tmp_path, stamps, expected):
    body = "".join(f"{stamp},{VALUES}" for stamp in stamps)
    frame = load_ohlcv(write(tmp_path, f",Open,High,Low,Close,Volume\n{body}"))
    assert frame["ts"].to_list() == expected
    assert frame.schema["ts"] == TS_DTYPE


def test_extra_columns_are_ignored(tmp_path):
    text = "Date,Open,High,Low,Close,Adj Close,Volume,Symbol\n2024-01-02,10,11,9,10.5,10.4,1000,Q\n"
    frame = load_ohlcv(write(tmp_path, text))
    assert frame.columns == CANONICAL_COLUMNS
    assert frame["close"][0] == 10.5 and frame["symbol"][0] == "TEST"


def test_unsorted_rows_are_sorted(tmp_path):
    text = f"Date,Open,High,Low,Close,Volume\n2024-01-03,{VALUES}2024-01-02,{VALUES}"
    assert load_ohlcv(write(tmp_path, text))["ts"].to_list() == [day(2), day(3)]


def test_semicolon_separated_txt(tmp_path):
    text = "Date;Open;High;Low;Close;Volume\n2024-01-02;10;11;9;10.5;1000\n"
    assert load_ohlcv(write(tmp_path, text, "test.txt"))["volume"][0] == 1000.0


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
@pytest.mark.parametrize(
    "ts",
    [
        pl.Series("Date", [datetime(2024, 1, 2)]),  # naive -> UTC
        pl.Series("timestamp", [datetime(2024, 1, 2, 1, tzinfo=UTC)]).dt.convert_time_zone("Europe/Berlin"),
        pl.Series("ts", ["2024-01-02"]),
        pl.Series("Datetime", [1704153600000]),
    ],
)
def test_parquet_files(tmp_path, suffix, ts):
    path = tmp_path / f"test_1d{suffix}"
    pl.DataFrame(
        [ts, *(pl.Series(n, [v]) for n, v in zip("OHLCV", [10, 11.0, 9.0, 10.5, 1000], strict=True))]
    ).rename({"O": "Open", "H": "High", "L": "Low", "C": "Close", "V": "Volume"}).write_parquet(path)
    frame = load_ohlcv(path)
    assert frame.columns == CANONICAL_COLUMNS
    assert frame["ts"][0].date() == day(2).date()
    assert frame.schema["ts"] == TS_DTYPE and frame["open"][0] == 10.0


HEADER = "Date,Open,High,Low,Close,Volume\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "file is empty"),
        (HEADER, "no data rows"),
        ("Date,Open,High,Low,Close\n2024-01-02,10,11,9,10.5\n", "missing column(s): volume"),
        ("Open,High,Close,Volume\n10,11,10.5,1\n", "missing column(s): timestamp"),
        (HEADER + f"2024-01-02,{VALUES}yesterday,{VALUES}", "unparsable timestamp 'yesterday' at row 2"),
        (HEADER + f"2024-01-02,{VALUES},{VALUES}", "missing timestamp at row 2"),
        (HEADER + f"2024-01-02,{VALUES}2024-01-03,{VALUES}2024-01-03,{VALUES}",
         "duplicate timestamp 2024-01-03 at rows 2 and 3"),
        (HEADER + f"2024-01-02,{VALUES}2024-01-03,10,11,0,10.5,1000\n",
         "non-positive price 0.0 in column low at row 2 (2024-01-03)"),
        (HEADER + "2024-01-02,-1,11,9,10.5,1000\n", "non-positive price -1.0 in column open at row 1"),
        (HEADER + "2024-01-02,10,8,9,10.5,1000\n", "high 8.0 is below low 9.0 at row 1 (2024-01-02)"),
        (HEADER + f"2024-01-02,{VALUES}2024-01-03,{VALUES}2024-01-04,10,11,9,NaN,1000\n",
         "NaN in column close at row 3"),
        (HEADER + f"2024-01-02,{VALUES}2024-01-03,,11,9,10.5,1000\n",
         "missing value in column open at row 2"),
        (HEADER + "2024-01-02,10,abc,9,10.5,1000\n", "non-numeric value 'abc' in column high at row 1"),
        (HEADER + "2024-01-02,10,11,9,inf,1000\n", "infinite value in column close at row 1"),
        (HEADER + "2024-01-02,10,11,9,10.5,-5\n", "negative volume -5.0 at row 1"),
        (HEADER + f"2024-01-02,{VALUES}2024-01-03,10,11,9,10.5,1000,7,8\n", "cannot read file"),
    ],
)  # fmt: skip
def test_bad_files_raise_one_line_naming_file_and_problem(tmp_path, text, problem):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as caught:
        load_ohlcv(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path) + ": ")
    assert problem in message


def test_missing_file_and_unsupported_type(tmp_path):
    with pytest.raises(DataError, match="file not found") as caught:
        load_ohlcv(tmp_path / "nope.csv")
    assert "nope.csv" in str(caught.value)
    with pytest.raises(DataError, match="unsupported file type '.xlsx'"):
        load_ohlcv(write(tmp_path, "x", "bars.xlsx"))


def test_data_error_is_a_value_error_and_always_one_line():
    assert issubclass(DataError, ValueError)
    assert str(DataError("a.csv: first\nsecond")) == "a.csv: first second"


def test_fingerprint_is_stable_and_content_sensitive(goog, tmp_path):
    # Pinned: a change here means old manifests no longer match the same data.
    expected = "1003e380800a"
    assert data_fingerprint(goog).startswith(expected)
    assert data_fingerprint(goog.clone()) == data_fingerprint(goog)
    changed = goog.with_columns(pl.when(pl.int_range(pl.len()) == 7).then(pl.col("close") + 0.01)
                                .otherwise(pl.col("close")).alias("close"))  # fmt: skip
    assert data_fingerprint(changed) != data_fingerprint(goog)
    assert data_fingerprint(goog.with_columns(pl.lit("X").alias("symbol"))) != data_fingerprint(goog)
    # Same bars in a different file order give the same canonical frame and fingerprint.
    shuffled = tmp_path / "goog_shuffled.csv"
    goog.sample(fraction=1.0, shuffle=True, seed=1).drop("symbol").write_csv(shuffled)
    assert data_fingerprint(load_ohlcv(shuffled)) == data_fingerprint(goog)


# --- refused without a word before: each of these was once accepted -----------------------

HEADER_6 = "Date,Open,High,Low,Close,Volume\n"


@pytest.mark.parametrize(
    ("header", "named"),
    [
        (",Open,High,Low,Close,Close,Volume", "'Close' (column 5) and 'Close' (column 6)"),
        (",Open,High,Low,Close,close,Volume", "'Close' (column 5) and 'close' (column 6)"),
        (",Open,High,Low,Close,Volume,VOLUME", "'Volume' (column 6) and 'VOLUME' (column 7)"),
    ],
)
def test_two_columns_that_both_mean_one_value_are_refused_naming_both(tmp_path, header, named):
    path = write(tmp_path, f"{header}\n2024-01-02,10,11,9,10.5,10.6,1000\n")
    with pytest.raises(DataError, match=rf"{header.split(',')[4].lower()}|volume") as caught:
        load_ohlcv(path)
    assert named in str(caught.value) and "both look like" in str(caught.value)
    from engine.raw import read_raw_ohlcv

    with pytest.raises(DataError, match="both look like"):
        read_raw_ohlcv(path)


# Written in local-time order, each row with its own offset: in UTC the rows jump back and forth.
SCRAMBLED = [
    "2024-01-02 10:00:00+00:00",
    "2024-01-02 11:00:00+05:00",  # 06:00 UTC: earlier than the row before, though written later
    "2024-01-02 12:00:00+00:00",
    "2024-01-02 13:00:00+05:00",
]


def test_utc_offsets_that_reorder_the_rows_are_refused(tmp_path):
    path = write(tmp_path, HEADER_6 + "".join(f"{ts},{VALUES}" for ts in SCRAMBLED))
    with pytest.raises(DataError) as caught:
        load_ohlcv(path)
    message = str(caught.value)
    assert "row 2 ('2024-01-02 11:00:00+05:00')" in message
    assert "+00:00, +05:00" in message and "reorder" in message


@pytest.mark.parametrize(
    "stamps",
    [
        ["2024-01-03 10:00:00+05:00", "2024-01-02 10:00:00+05:00", "2024-01-04 10:00:00+05:00"],  # one offset
        ["2024-01-03", "2024-01-02", "2024-01-04"],  # none
        # Berlin's fall-back, half-hourly, written with its offsets: UTC order, newest first.
        ["2024-10-27 02:30:00+01:00", "2024-10-27 02:00:00+01:00",
         "2024-10-27 02:30:00+02:00", "2024-10-27 02:00:00+02:00"],
        ["2024-10-27 02:00:00+02:00", "2024-10-27 02:30:00+02:00",
         "2024-10-27 02:00:00+01:00", "2024-10-27 02:30:00+01:00"],
    ],
)  # fmt: skip
def test_unsorted_rows_with_one_offset_and_dst_changes_are_still_read(tmp_path, stamps):
    frame = load_ohlcv(write(tmp_path, HEADER_6 + "".join(f"{ts},{VALUES}" for ts in stamps)))
    assert frame.height == len(stamps) and frame["ts"].is_sorted()


def test_times_later_than_now_plus_one_bar_are_refused(tmp_path):
    far = write(tmp_path, HEADER_6 + f"2024-01-02,{VALUES}9999-12-30,{VALUES}", "far_daily.csv")
    with pytest.raises(DataError, match=r"timestamp 9999-12-30 at row 2 is in the future"):
        load_ohlcv(far)
    days = write(tmp_path, HEADER_6 + "".join(f"2024-01-0{d},{VALUES}" for d in (1, 2, 3, 4)))
    now = datetime(2024, 1, 2, 12, tzinfo=UTC)
    with pytest.raises(DataError, match="2024-01-04 at row 4 is in the future"):
        load_ohlcv(days, now=now)  # 2024-01-03 is within one bar (a day) of now: the bar in progress
    assert load_ohlcv(days, now=datetime(2024, 1, 3, tzinfo=UTC)).height == 4
    assert load_ohlcv(days).height == 4  # the clock's now


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ("10,11,9,11.5,1000", "close 11.5 is outside [low 9.0, high 11.0] at row 1"),
        ("10,11,9,8.5,1000", "close 8.5 is outside [low 9.0, high 11.0] at row 1"),
        ("12,11,9,10,1000", "open 12.0 is outside [low 9.0, high 11.0] at row 1"),
    ],
)
def test_open_or_close_outside_low_high_is_refused(tmp_path, values, problem):
    with pytest.raises(DataError, match=re.escape(problem)):
        load_ohlcv(write(tmp_path, HEADER_6 + f"2024-01-02,{values}\n"))


@pytest.mark.parametrize("symbol", list(BUNDLED))
def test_bundled_files_have_no_open_or_close_outside_the_range(symbol):
    frame = load_ohlcv(bundled_path(symbol))
    for name in ("open", "close"):
        assert frame.filter((pl.col(name) < pl.col("low")) | (pl.col(name) > pl.col("high"))).is_empty()


@pytest.mark.parametrize(
    ("symbol", "problem"),
    [
        ("EVIL\u202eDSU", "symbol 'EVIL\\u202eDSU': the control or format character U+202E"),
        ("A\x07B", "symbol 'A\\u0007B': the control or format character U+0007"),
        ("X" * 100_000, "is 100000 characters long; at most 32"),
        ("EURUSD:1h", "':' (it separates the parts of a slot id)"),
        ("BTC USD", "whitespace (U+0020)"),
        ("", "symbol '': is empty"),
    ],
)
def test_unusable_symbols_are_refused_by_one_function_everywhere(tmp_path, symbol, problem):
    from engine.symbols import SymbolError, check_symbol

    with pytest.raises(SymbolError, match=re.escape(problem)):
        check_symbol(symbol)
    if symbol:
        with pytest.raises(DataError, match=re.escape(problem)) as caught:
            load_ohlcv(write(tmp_path, HEADER_6 + f"2024-01-02,{VALUES}"), symbol=symbol)
        assert len(str(caught.value)) < 300 and "\u202e" not in str(caught.value)


@pytest.mark.parametrize("symbol", ["BTC-USD", "EUR/USD", "^GSPC", "BRK.B", "EURUSD=X", "SPX_W", "eurusd"])
def test_tickers_as_markets_write_them_are_symbols(symbol):
    from engine.symbols import check_symbol

    assert check_symbol(symbol) == symbol


def test_a_file_name_that_makes_no_symbol_says_so(tmp_path):
    path = write(tmp_path, HEADER_6 + f"2024-01-02,{VALUES}", "my bars.csv")
    with pytest.raises(DataError, match="taken from the file name; name the symbol instead"):
        load_ohlcv(path)
    assert load_ohlcv(path, symbol="MINE")["symbol"][0] == "MINE"


EUROPEAN = "Date;Open;High;Low;Close;Volume\n2024-01-02;1,2345;1,25;1,2;1,2400;100\n"


def test_semicolons_and_decimal_commas_say_how_to_read_them_and_read_with_the_options(tmp_path):
    path = write(tmp_path, EUROPEAN, "eurusd_daily.csv")
    with pytest.raises(DataError, match="looks like a decimal comma: read the file with decimal ','"):
        load_ohlcv(path)  # a .csv whose header has no comma: the separator is sniffed
    with pytest.raises(DataError, match="read it with separator ';' and decimal ','"):
        load_ohlcv(path, separator=",")
    frame = load_ohlcv(path, separator=";", decimal=",")
    assert frame.row(0) == (day(2), "EURUSD", 1.2345, 1.25, 1.2, 1.24, 100.0)
    assert load_ohlcv(path, decimal=",").row(0) == frame.row(0)
    with pytest.raises(DataError, match="non-numeric value '1.5'"):  # a '.' could mean thousands
        load_ohlcv(write(tmp_path, EUROPEAN.replace("1,2345", "1.5"), "mixed.csv"), decimal=",")
    with pytest.raises(DataError, match="separator ';;': must be one character"):
        load_ohlcv(path, separator=";;")
    with pytest.raises(DataError, match="decimal ':': must be"):
        load_ohlcv(path, decimal=":")
    tabbed = write(tmp_path, EUROPEAN.replace(";", "\t"), "tabbed.txt")
    assert load_ohlcv(tabbed, separator="tab", decimal=",")["close"][0] == 1.24

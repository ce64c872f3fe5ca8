"""Load OHLCV files as people actually have them into one canonical, validated polars frame.

Canonical frame: columns `ts` (Datetime us, UTC), `symbol` (String), `open`, `high`, `low`,
`close`, `volume` (Float64); sorted by `ts`; one row per timestamp; prices finite and > 0,
high >= low, volume finite and >= 0.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from engine.timestamps import UTC_MICROS, TimestampParseError, parse_timestamps

VALUE_COLUMNS = ["open", "high", "low", "close", "volume"]
PRICE_COLUMNS = ["open", "high", "low", "close"]
CANONICAL_COLUMNS = ["ts", "symbol", *VALUE_COLUMNS]

# Lower-cased header names that hold the bar's timestamp. "" and "unnamed: 0" are what an
# unnamed index looks like after pandas' to_csv / read_csv; "__index_level_0__" after to_parquet.
_TIMESTAMP_NAMES = {
    "",
    "unnamed: 0",
    "__index_level_0__",
    "date",
    "datetime",
    "timestamp",
    "time",
    "ts",
}
_TEXT_SUFFIXES = {".csv": ",", ".txt": None, ".tsv": "\t"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}


class DataError(ValueError):
    """Bad input data. The message is one line naming the file and the problem."""

    def __init__(self, message: str):
        # Library messages (polars, OS) may span lines; the console shows exactly one.
        super().__init__(" ".join(message.split()))


def load_ohlcv(path: str | Path, symbol: str | None = None) -> pl.DataFrame:
    """Read a CSV / TSV / TXT or Parquet file of bars into the canonical frame.

    Headers may be in any case; the timestamp column may be unnamed or called Date, Datetime,
    Timestamp, Time or ts; extra columns (e.g. "Adj Close") are ignored. Open, High, Low, Close
    and Volume are all required. Unsorted rows are sorted; everything else that is wrong raises
    DataError. Row numbers in messages count data rows from 1, as they appear in the file with
    the header line excluded (so row N is on line N + 1 of a CSV).

    `symbol` defaults to the file name's stem up to its first '_', upper-cased
    (goog_daily.csv -> "GOOG").
    """
    path = Path(path)
    source = str(path)
    raw = _read_table(path, source)
    columns = _find_columns(raw, source)
    ts = _parse_timestamp_column(raw[columns["ts"]], source)
    values = {name: _numeric_column(raw[columns[name]], name, source) for name in VALUE_COLUMNS}
    frame = pl.DataFrame(
        {
            "ts": ts,
            "symbol": pl.Series([symbol or _symbol_from_path(path)] * raw.height, dtype=pl.String),
            **values,
        }
    )
    _check_duplicates(frame, source)
    _check_prices(frame, source)
    return frame.sort("ts")


def data_fingerprint(frame: pl.DataFrame) -> str:
    """sha256 hex digest of the canonical columns' content, stable across runs and machines."""
    missing = [name for name in CANONICAL_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"data_fingerprint needs the canonical columns; missing: {missing}")
    digest = hashlib.sha256()
    digest.update(f"rows={frame.height};columns={','.join(CANONICAL_COLUMNS)};".encode())
    ts_micros = frame["ts"].cast(UTC_MICROS).dt.epoch("us").to_numpy()
    digest.update(ts_micros.astype("<i8").tobytes())
    digest.update("\x00".join(frame["symbol"].cast(pl.String).to_list()).encode())
    for name in VALUE_COLUMNS:
        digest.update(frame[name].cast(pl.Float64).to_numpy().astype("<f8").tobytes())
    return digest.hexdigest()


def _read_table(path: Path, source: str) -> pl.DataFrame:
    suffix = path.suffix.lower()
    if suffix not in _TEXT_SUFFIXES and suffix not in _PARQUET_SUFFIXES:
        known = ", ".join([*_TEXT_SUFFIXES, *sorted(_PARQUET_SUFFIXES)])
        raise DataError(f"{source}: unsupported file type {suffix or '(none)'!r}; expected {known}")
    if not path.exists():
        raise DataError(f"{source}: file not found")
    try:
        if suffix in _PARQUET_SUFFIXES:
            table = pl.read_parquet(path)
        else:
            separator = _TEXT_SUFFIXES[suffix] or _sniff_separator(path)
            # Everything as text: we parse it ourselves so that errors can name row and value.
            table = pl.read_csv(path, separator=separator, infer_schema=False)
    except pl.exceptions.NoDataError:
        raise DataError(f"{source}: file is empty") from None
    except OSError as error:
        raise DataError(f"{source}: cannot read file: {error.strerror or error}") from None
    except Exception as error:  # polars raises several kinds for malformed files
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"{source}: cannot read file: {detail}") from None
    if table.height == 0:
        raise DataError(f"{source}: no data rows")
    return table


def _sniff_separator(path: Path) -> str:
    with path.open("rb") as handle:
        header = handle.readline().decode("utf-8", errors="replace")
    counts = {separator: header.count(separator) for separator in [",", ";", "\t"]}
    return max(counts, key=counts.__getitem__) if max(counts.values()) > 0 else ","


def _normalise_name(name: str) -> str:
    return name.replace("\ufeff", "").strip().lower()


def _find_columns(table: pl.DataFrame, source: str) -> dict[str, str]:
    """Map canonical names to the file's header names."""
    found: dict[str, str] = {}
    for original in table.columns:
        name = _normalise_name(original)
        canonical = "ts" if name in _TIMESTAMP_NAMES else name
        if canonical not in CANONICAL_COLUMNS or canonical == "symbol":
            continue
        if canonical in found:
            if canonical == "ts":
                continue  # the first timestamp-like column (in file order) wins
            raise DataError(
                f"{source}: columns {found[canonical]!r} and {original!r} both look like {canonical!r}"
            )
        found[canonical] = original
    missing = [name for name in VALUE_COLUMNS if name not in found]
    if "ts" not in found:
        missing.insert(0, "timestamp (unnamed first column, or Date/Datetime/Timestamp/Time/ts)")
    if missing:
        raise DataError(f"{source}: missing column(s): {', '.join(missing)}")
    return found


def _parse_timestamp_column(values: pl.Series, source: str) -> pl.Series:
    try:
        return parse_timestamps(values)
    except TimestampParseError as error:
        shown = "" if error.value is None else f" {error.value!r}"
        raise DataError(f"{source}: {error.reason}{shown} at row {error.index + 1}") from None


def _numeric_column(values: pl.Series, name: str, source: str) -> pl.Series:
    if values.dtype == pl.String:
        numbers = values.str.strip_chars().cast(pl.Float64, strict=False)
        unreadable = values.is_not_null() & (values.str.strip_chars() != "") & numbers.is_null()
        if unreadable.any():
            index = int(unreadable.arg_true()[0])
            raise DataError(
                f"{source}: non-numeric value {values[index]!r} in column {name} at row {index + 1}"
            )
    elif values.dtype.is_numeric():
        numbers = values.cast(pl.Float64)
    else:
        raise DataError(f"{source}: column {name} holds {values.dtype}, expected numbers")
    for problem, mask in [
        ("missing value", numbers.is_null()),
        ("NaN", numbers.is_nan().fill_null(False)),
        ("infinite value", numbers.is_infinite().fill_null(False)),
    ]:
        if mask.any():
            index = int(mask.arg_true()[0])
            raise DataError(f"{source}: {problem} in column {name} at row {index + 1}")
    return numbers.alias(name)


def _check_duplicates(frame: pl.DataFrame, source: str) -> None:
    repeated = ~frame["ts"].is_first_distinct()
    if not repeated.any():
        return
    second = int(repeated.arg_true()[0])
    first = int((frame["ts"] == frame["ts"][second]).arg_true()[0])
    raise DataError(
        f"{source}: duplicate timestamp {_format_ts(frame, second)} at rows {first + 1} and {second + 1}"
    )


def _check_prices(frame: pl.DataFrame, source: str) -> None:
    for name in PRICE_COLUMNS:
        bad = frame[name] <= 0
        if bad.any():
            index = int(bad.arg_true()[0])
            raise DataError(
                f"{source}: non-positive price {frame[name][index]} in column {name} "
                f"at row {index + 1} ({_format_ts(frame, index)})"
            )
    bad = frame["volume"] < 0
    if bad.any():
        index = int(bad.arg_true()[0])
        raise DataError(
            f"{source}: negative volume {frame['volume'][index]} "
            f"at row {index + 1} ({_format_ts(frame, index)})"
        )
    bad = frame["high"] < frame["low"]
    if bad.any():
        index = int(bad.arg_true()[0])
        raise DataError(
            f"{source}: high {frame['high'][index]} is below low {frame['low'][index]} "
            f"at row {index + 1} ({_format_ts(frame, index)})"
        )


def _format_ts(frame: pl.DataFrame, index: int) -> str:
    moment = frame["ts"][index]
    if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _symbol_from_path(path: Path) -> str:
    return path.stem.split("_")[0].upper()

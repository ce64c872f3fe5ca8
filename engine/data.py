"""Load OHLCV files as people actually have them into one canonical, validated polars frame.

Canonical frame: columns `ts` (Datetime us, UTC), `symbol` (String), `open`, `high`, `low`,
`close`, `volume` (Float64); sorted by `ts`; one row per timestamp; prices finite and > 0,
low <= open, close <= high, volume finite and >= 0; no bar later than now plus one bar.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from engine.symbols import SymbolError, check_symbol
from engine.timestamps import (
    UTC_MICROS,
    TimestampParseError,
    first_reordered_by_offsets,
    parse_timestamps,
    utc_offsets,
)

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
_SEPARATORS = [",", ";", "\t", "|"]
_TAB_SPELLINGS = {"tab", "\\t"}  # how a tab is given on a command line
_DECIMAL_COMMA = re.compile(r"\s*[+-]?\d+,\d+\s*")
DECIMALS = (".", ",")
# Columns the readers take values from: two of them under one name is ambiguous.
_READ_COLUMNS = {*VALUE_COLUMNS, "symbol"}
_LONGEST_BAR = timedelta(days=366)


class DataError(ValueError):
    """Bad input data. The message is one line naming the file and the problem."""

    def __init__(self, message: str):
        # Library messages (polars, OS) may span lines; the console shows exactly one.
        super().__init__(" ".join(message.split()))


def load_ohlcv(
    path: str | Path,
    symbol: str | None = None,
    *,
    separator: str | None = None,
    decimal: str = ".",
    now: datetime | None = None,
) -> pl.DataFrame:
    """Read a CSV / TSV / TXT or Parquet file of bars into the canonical frame.

    Headers may be in any case; the timestamp column may be unnamed or called Date, Datetime,
    Timestamp, Time or ts; extra columns (e.g. "Adj Close") are ignored. Open, High, Low, Close
    and Volume are all required. Unsorted rows are sorted, unless their UTC offsets are what
    puts them out of order (then the file is refused: see first_reordered_by_offsets);
    everything else that is wrong raises DataError. Row numbers in messages count data rows
    from 1, as they appear in the file with the header line excluded (so row N is on line N + 1
    of a CSV).

    `symbol` defaults to the file name's stem up to its first '_', upper-cased
    (goog_daily.csv -> "GOOG"); either way it must pass engine.symbols.check_symbol.
    `separator` (one character, or "tab") and `decimal` ("." or ",") read text files such as a
    European spreadsheet's `Date;Open;...` with `1,2345`; by default the separator is the
    suffix's (.csv ",", .tsv tab; .txt and a .csv whose header has no comma: sniffed). `now`
    (default: the clock) is what bars later than one bar ahead of are refused.
    """
    path = Path(path)
    source = str(path)
    separator, decimal = text_format(separator, decimal)
    raw = _read_table(path, source, separator)
    columns = _find_columns(raw, source)
    written_ts = raw[columns["ts"]]
    ts = _parse_timestamp_column(written_ts, source)
    values = {name: _numeric_column(raw[columns[name]], name, source, decimal) for name in VALUE_COLUMNS}
    frame = pl.DataFrame(
        {
            "ts": ts,
            "symbol": pl.Series([checked_symbol(symbol, path, source)] * raw.height, dtype=pl.String),
            **values,
        }
    )
    _check_duplicates(frame, source)
    _check_prices(frame, source)
    check_times(frame, written_ts, source, now)
    return frame.sort("ts")


def checked_symbol(symbol: str | None, path: Path, source: str) -> str:
    """``symbol``, or the one the file name gives, if engine.symbols accepts it; else DataError."""
    try:
        return check_symbol(symbol or _symbol_from_path(path))
    except SymbolError as error:
        origin = "" if symbol else " (taken from the file name; name the symbol instead)"
        raise DataError(f"{source}: {error}{origin}") from None


def text_format(separator: str | None, decimal: str | None) -> tuple[str | None, str]:
    """(separator, decimal) checked: one separator character ("tab" and "\\t" mean a tab) or None
    for the default, and "." or "," for the decimal mark."""
    if separator is not None:
        separator = "\t" if separator in _TAB_SPELLINGS else separator
        if len(separator) != 1 or separator in "\r\n\"" or separator.isalnum():
            raise DataError(f"separator {separator!r}: must be one character such as ',' ';' '|' or 'tab'")
    decimal = "." if decimal is None else decimal
    if decimal not in DECIMALS:
        raise DataError(f"decimal {decimal!r}: must be '.' or ','")
    if decimal == "," and separator == ",":
        raise DataError("decimal ',': the separator may not be ',' as well (e.g. separator ';')")
    return separator, decimal


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


def _read_table(path: Path, source: str, separator: str | None = None) -> pl.DataFrame:
    suffix = path.suffix.lower()
    if suffix not in _TEXT_SUFFIXES and suffix not in _PARQUET_SUFFIXES:
        known = ", ".join([*_TEXT_SUFFIXES, *sorted(_PARQUET_SUFFIXES)])
        raise DataError(f"{source}: unsupported file type {suffix or '(none)'!r}; expected {known}")
    if not path.exists():
        raise DataError(f"{source}: file not found")
    try:
        if suffix not in _PARQUET_SUFFIXES:
            return read_text_table(path.read_bytes(), suffix, source, separator)
        table = pl.read_parquet(path)
    except OSError as error:
        raise DataError(f"{source}: cannot read file: {error.strerror or error}") from None
    except Exception as error:  # polars raises several kinds for malformed files
        if isinstance(error, DataError):
            raise
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"{source}: cannot read file: {detail}") from None
    if table.height == 0:
        raise DataError(f"{source}: no data rows")
    return table


def read_text_table(data: bytes, suffix: str, source: str, separator: str | None = None) -> pl.DataFrame:
    """A CSV / TSV / TXT file's table, every column as text (the parsers then name the row and
    value of whatever is wrong). Shared by load_ohlcv and engine.sources, so both say the same."""
    header = data.split(b"\n", 1)[0].decode("utf-8", errors="replace").replace("\ufeff", "").rstrip("\r")
    separator = separator or _sniff_separator(header, suffix)
    try:
        table = pl.read_csv(io.BytesIO(data), separator=separator, infer_schema=False)
    except pl.exceptions.NoDataError:
        raise DataError(f"{source}: file is empty") from None
    except Exception as error:  # polars raises several kinds for malformed files
        text = str(error).strip()
        if "more fields" in text:
            raise DataError(f"{source}: cannot read file: {_ragged_rows(data, header, separator)}") from None
        detail = text.splitlines()[0] if text else type(error).__name__
        raise DataError(f"{source}: cannot read file: {detail}") from None
    if table.height == 0:
        raise DataError(f"{source}: no data rows")
    _check_repeated_header(next(csv.reader([header], delimiter=separator), []), source)
    return table


def _sniff_separator(header: str, suffix: str) -> str:
    """The suffix's separator; for .txt, or a .csv whose header has no comma at all (a European
    spreadsheet's `Date;Open;...`), the commonest candidate in the header."""
    default = _TEXT_SUFFIXES.get(suffix)
    if default is not None and (default != "," or "," in header):
        return default
    counts = {separator: header.count(separator) for separator in _SEPARATORS}
    return max(counts, key=counts.__getitem__) if max(counts.values()) > 0 else ","


def _ragged_rows(data: bytes, header: str, separator: str) -> str:
    """Say which row has more fields than the header, and what the file looks like instead."""
    shown = _shown_separator(separator)
    lines = data.decode("utf-8", errors="replace").splitlines()
    expected = len(next(csv.reader([header], delimiter=separator), []))
    row, width = next(
        (
            (number, len(fields))
            for number, fields in enumerate(csv.reader(lines[1:], delimiter=separator), 1)
            if len(fields) > expected
        ),
        (None, None),
    )
    where = f"row {row} has {width} fields" if row else "a row has more fields"
    message = f"{where} where the header has {expected} ({shown}-separated)"
    sample = lines[1] if len(lines) > 1 else ""
    others = [other for other in _SEPARATORS if other != separator and other in header + sample]
    if separator == "," and ";" in others:
        return (
            f"{message}; the rows look ';'-separated with decimal commas: read it with "
            "separator ';' and decimal ','"
        )
    if others:
        return f"{message}; the file may be {_shown_separator(others[0])}-separated"
    return f"{message}; is a value holding {shown} missing its quotes?"


def _shown_separator(separator: str) -> str:
    return "tab" if separator == "\t" else repr(separator)


def _check_repeated_header(header: list[str], source: str) -> None:
    """Refuse two columns of one name that a value is read from: polars renames the second
    (`Close_duplicated_0`), which would leave the first to be used without a word."""
    seen: dict[str, int] = {}
    for position, written in enumerate(header, 1):
        name = _normalise_name(written)
        if name not in _READ_COLUMNS:
            continue
        if name in seen:
            first = seen[name]
            raise DataError(
                f"{source}: columns {header[first - 1].strip()!r} (column {first}) and "
                f"{written.strip()!r} (column {position}) both look like {name!r}"
            )
        seen[name] = position


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


def number_text(values: pl.Series, decimal: str = ".") -> pl.Series:
    """Text numbers with ``decimal`` as their decimal mark, as Float64 (null where unreadable).
    With a decimal comma a '.' is unreadable: it could be a thousands separator."""
    text = values.str.strip_chars()
    if decimal == ",":
        text = text.str.replace_all(".", "\x00", literal=True).str.replace(",", ".", literal=True)
    return text.cast(pl.Float64, strict=False)


def _numeric_column(values: pl.Series, name: str, source: str, decimal: str = ".") -> pl.Series:
    if values.dtype == pl.String:
        numbers = number_text(values, decimal)
        unreadable = values.is_not_null() & (values.str.strip_chars() != "") & numbers.is_null()
        if unreadable.any():
            index = int(unreadable.arg_true()[0])
            value = values[index]
            hint = ""
            if decimal == "." and _DECIMAL_COMMA.fullmatch(value):
                hint = "; it looks like a decimal comma: read the file with decimal ','"
            raise DataError(
                f"{source}: non-numeric value {value!r} in column {name} at row {index + 1}{hint}"
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
    for name in ("close", "open"):
        bad = (frame[name] < frame["low"]) | (frame[name] > frame["high"])
        if bad.any():
            index = int(bad.arg_true()[0])
            raise DataError(
                f"{source}: {name} {frame[name][index]} is outside [low {frame['low'][index]}, "
                f"high {frame['high'][index]}] at row {index + 1} ({_format_ts(frame, index)})"
            )


def typical_spacing(ts: pl.Series) -> timedelta:
    """The median step between distinct timestamps (zero for fewer than two): one bar. At most
    a year, the longest bar there is (two rows, one of them in the year 9999, are not a bar)."""
    steps = ts.unique().sort().diff().drop_nulls()
    if steps.is_empty():
        return timedelta(0)
    return min(steps.median(), _LONGEST_BAR)  # type: ignore[type-var, return-value]


def check_times(frame: pl.DataFrame, written: pl.Series, source: str, now: datetime | None = None) -> None:
    """Refuse rows that UTC offsets put out of order (see first_reordered_by_offsets), and bars
    later than ``now`` (default: the clock) plus one bar. ``written`` is the timestamp column as
    read (text when the file is text), in the frame's row order."""
    index = first_reordered_by_offsets(written, frame["ts"])
    if index is not None:
        offsets = ", ".join(utc_offsets(written.str.strip_chars()).drop_nulls().unique(maintain_order=True))
        raise DataError(
            f"{source}: row {index + 1} ({written[index].strip()!r}) is earlier in UTC than row {index} "
            f"although written later: the UTC offsets ({offsets}) reorder the rows; "
            "write the times in one offset, or in UTC order"
        )
    now = datetime.now(UTC) if now is None else now if now.tzinfo else now.replace(tzinfo=UTC)
    limit = now + typical_spacing(frame["ts"])
    late = frame["ts"] > limit
    if late.any():
        index = int(late.arg_true()[0])
        raise DataError(
            f"{source}: timestamp {_format_ts(frame, index)} at row {index + 1} is in the future "
            f"(later than now, {now:%Y-%m-%d %H:%M} UTC, plus one bar)"
        )



def _format_ts(frame: pl.DataFrame, index: int) -> str:
    moment = frame["ts"][index]
    if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _symbol_from_path(path: Path) -> str:
    return path.stem.split("_")[0].upper()

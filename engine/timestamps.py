"""Turn a timestamp column, in whatever form people keep it, into UTC microsecond datetimes.

Accepted forms: ISO dates and datetimes (with 'T' or a space, optional fractional seconds,
optional UTC offset or 'Z'), US month/day/year dates with or without a time of day, unix
seconds / milliseconds / microseconds / nanoseconds (told apart by magnitude), 8-digit
YYYYMMDD integers, and columns that are already dates or datetimes (Parquet). Naive values are
taken as UTC; values with an offset are converted to UTC.
"""

from __future__ import annotations

import polars as pl

UTC_MICROS = pl.Datetime("us", "UTC")

# Tried in order; the first one that parses every value wins. Offsets ('%z') give UTC values.
_STRING_FORMATS = [
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
]

# Unix epochs: the largest magnitude in the column decides the unit. 1e11 seconds is the year
# 5138 while 1e11 milliseconds is 1973, so real market data never sits on the wrong side.
_EPOCH_UNITS = [(1e11, "s"), (1e14, "ms"), (1e17, "us"), (float("inf"), "ns")]


class TimestampParseError(ValueError):
    """A value that could not be read as a timestamp; `index` is its 0-based position and
    `value` is None when the timestamp is missing altogether."""

    def __init__(self, index: int, value: object, reason: str = "unparsable timestamp"):
        self.index = index
        self.value = value
        self.reason = reason
        shown = "" if value is None else f" {value!r}"
        super().__init__(f"{reason}{shown} at position {index}")


def parse_timestamps(values: pl.Series) -> pl.Series:
    """Return `values` as Datetime('us', 'UTC'); raise TimestampParseError on the first bad one."""
    _reject_nulls(values)
    dtype = values.dtype
    if dtype == pl.String:
        parsed = _parse_strings(values)
    elif dtype.is_integer():
        parsed = _parse_integers(values.cast(pl.Int64))
    elif dtype.is_float():
        parsed = _parse_floats(values)
    elif dtype == pl.Date:
        parsed = values.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    elif isinstance(dtype, pl.Datetime):
        parsed = _datetimes_to_utc(values)
    else:
        raise TimestampParseError(
            0, values[0], f"timestamp column of type {dtype} is not supported; first value"
        )
    return parsed.cast(UTC_MICROS).alias(values.name)


def _reject_nulls(values: pl.Series) -> None:
    missing = values.is_null()
    if values.dtype == pl.String:
        missing = missing | (values.str.strip_chars() == "")
    if missing.any():
        index = int(missing.arg_true()[0])
        raise TimestampParseError(index, None, "missing timestamp")


def _datetimes_to_utc(values: pl.Series) -> pl.Series:
    if values.dtype.time_zone is None:  # type: ignore[union-attr]
        return values.dt.replace_time_zone("UTC")
    return values.dt.convert_time_zone("UTC")


def _parse_integers(values: pl.Series) -> pl.Series:
    if _looks_like_yyyymmdd(values):
        return values.cast(pl.String).str.to_datetime("%Y%m%d", time_unit="us", time_zone="UTC")
    largest = float(values.abs().max())  # type: ignore[arg-type]
    unit = next(unit for limit, unit in _EPOCH_UNITS if largest < limit)
    return pl.from_epoch(values, time_unit=unit).dt.replace_time_zone("UTC")  # type: ignore[arg-type]


def _looks_like_yyyymmdd(values: pl.Series) -> bool:
    # Unix seconds this small would fall in 1970, so 8-digit calendar-valid integers are dates.
    if values.min() < 19000101 or values.max() > 21001231:  # type: ignore[operator]
        return False
    as_dates = values.cast(pl.String).str.to_datetime("%Y%m%d", strict=False, time_unit="us")
    return as_dates.null_count() == 0


def _parse_floats(values: pl.Series) -> pl.Series:
    not_whole = values.is_nan() | (values != values.round(0))
    if not_whole.any():
        index = int(not_whole.arg_true()[0])
        raise TimestampParseError(index, values[index])
    return _parse_integers(values.cast(pl.Int64))


def _parse_strings(values: pl.Series) -> pl.Series:
    text = values.str.strip_chars()
    if text.str.contains(r"^-?\d+$").all():
        return _parse_integers(text.cast(pl.Int64))
    text = (
        text.str.replace(r"^(\d{4}-\d{2}-\d{2})[Tt]", "$1 ")
        .str.replace(r"\s*(?:[Zz]|UTC)$", "+00:00")
        .str.replace(r"\s+([+-]\d{2}:?\d{2})$", "$1")
    )
    best_parsed, best_failures = None, len(text) + 1
    for fmt in _STRING_FORMATS:
        parsed = text.str.to_datetime(fmt, strict=False, time_unit="us")
        failures = parsed.null_count()
        if failures == 0:
            return _datetimes_to_utc(parsed)
        if failures < best_failures:
            best_parsed, best_failures = parsed, failures
    assert best_parsed is not None
    index = int(best_parsed.is_null().arg_true()[0])
    raise TimestampParseError(index, values[index])


# --- what the offsets written in a column say ----------------------------------------------

# The UTC offset at the end of a timestamp written as text: Z, UTC, +02:00, -0500.
OFFSET_PATTERN = r"(?:\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*([Zz]|UTC|[+-]\d{2}:?\d{2})$"


def utc_offsets(text):
    """The offset each timestamp is written with, as +HH:MM ('Z' and 'UTC' -> +00:00); null where
    none. Takes and returns a polars String Series or expression alike."""
    return (
        text.str.extract(OFFSET_PATTERN, 1)
        .str.replace(r"^(?:[Zz]|UTC)$", "+00:00")
        .str.replace(r"^([+-]\d{2})(\d{2})$", "$1:$2")
    )


def first_reordered_by_offsets(written: pl.Series, utc: pl.Series) -> int | None:
    """The 0-based position of the first row that the UTC offsets put out of order, or None
    (see reordered_by_offsets)."""
    hits = reordered_by_offsets(written, utc)
    return int(hits.arg_true()[0]) if hits.any() else None


def reordered_by_offsets(written: pl.Series, utc: pl.Series) -> pl.Series:
    """True for each row that the UTC offsets put out of order.

    That is a row which is not earlier than the row before it on the clock as written, yet is
    earlier once converted to UTC: a file kept in local-time order whose offsets jump about
    (+00:00, +05:00, +00:00 ...). Sorting such a file by UTC would scramble its bars, so it is
    refused rather than sorted. Rows merely out of order (earlier on both clocks), daylight-saving
    changes (later in UTC) and files in UTC order, oldest or newest first, are not reordered.
    ``written`` is the timestamp column as read, ``utc`` the same rows parsed.
    """
    none = pl.Series([False] * utc.len(), dtype=pl.Boolean)
    if written.dtype != pl.String or utc.len() < 2:
        return none
    text = written.str.strip_chars()
    if utc_offsets(text).drop_nulls().n_unique() < 2:
        return none
    back, forward = (utc < utc.shift(1)).fill_null(False), (utc > utc.shift(1)).fill_null(False)
    if not back.any() or not forward.any():
        return none
    try:  # the same text without its offsets: the clock the file was written in
        as_written = parse_timestamps(text.str.replace(r"\s*(?:[Zz]|UTC|[+-]\d{2}:?\d{2})$", ""))
    except TimestampParseError:
        return none
    return back & (as_written >= as_written.shift(1)).fill_null(False)

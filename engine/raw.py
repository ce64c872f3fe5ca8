"""A lenient read of an OHLCV file: everything that can be read is, nothing raises on bad rows.

load_ohlcv stops at the first problem, which is right for training. Validation needs to see all
of them at once, so this reader keeps every row in file order and leaves what it cannot read
as null for engine.quality to report. It still raises DataError when there is no table to speak
of (missing file, unsupported type, missing columns).

Raw frame columns: ``row`` (data row number from 1, as in load_ohlcv's messages), ``ts``
(UTC, null where unreadable), ``ts_text`` (the timestamp as written, null for typed Parquet
columns), ``symbol``, ``open``, ``high``, ``low``, ``close``, ``volume`` (Float64, null where
empty or not a number; NaN and inf kept as such).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from engine.data import VALUE_COLUMNS, DataError, _find_columns, checked_symbol, number_text, text_format
from engine.sources import RetryOptions, check_symbol_column, read_file_table, symbol_column
from engine.timestamps import UTC_MICROS, TimestampParseError, parse_timestamps

RAW_COLUMNS = ["row", "ts", "ts_text", "symbol", *VALUE_COLUMNS]


def read_raw_ohlcv(
    path: str | Path,
    symbol: str | None = None,
    *,
    retries: RetryOptions | None = None,
    separator: str | None = None,
    decimal: str = ".",
) -> pl.DataFrame:
    """Read ``path`` leniently into the raw frame described above, rows in file order.
    ``separator`` and ``decimal`` are load_ohlcv's."""
    path = Path(path)
    source = str(path)
    separator, decimal = text_format(separator, decimal)
    table = read_file_table(path, retries, separator=separator)
    columns = _find_columns(table, source)
    ts_values = table[columns["ts"]]
    ts_text = ts_values.str.strip_chars() if ts_values.dtype == pl.String else None
    frame = pl.DataFrame(
        {
            "row": pl.int_range(1, table.height + 1, eager=True, dtype=pl.Int64),
            "ts": lenient_timestamps(ts_values),
            "ts_text": ts_text if ts_text is not None else pl.Series([None] * table.height, dtype=pl.String),
            "symbol": _raw_symbols(table, source, lambda: checked_symbol(symbol, path, source)),
            **{name: lenient_numbers(table[columns[name]], name, source, decimal) for name in VALUE_COLUMNS},
        }
    )
    return frame.select(RAW_COLUMNS)


def lenient_timestamps(values: pl.Series) -> pl.Series:
    """Timestamps as UTC, null where a value can't be read.

    The whole column is first parsed the strict way (engine.timestamps), so a clean column reads
    exactly as load_ohlcv reads it. Otherwise values are parsed in groups of the same shape
    (digits masked), so that one stray value doesn't spoil its neighbours, and a group that still
    fails is parsed value by value.
    """
    try:
        return parse_timestamps(values).alias("ts")
    except TimestampParseError:
        pass
    result = pl.Series("ts", [None] * values.len(), dtype=UTC_MICROS)
    if values.dtype == pl.String:
        text = values.str.strip_chars()
        keys = text.str.replace_all(r"\d", "9")
    else:
        text, keys = values, pl.Series([values.dtype.__class__.__name__] * values.len())
    readable = text.is_not_null() & (text.cast(pl.String) != "")
    if values.dtype.is_float():
        readable = readable & values.is_finite().fill_null(False)
    positions = pl.DataFrame({"key": keys, "index": pl.int_range(0, values.len(), eager=True)})
    for _key, group in positions.filter(readable).group_by("key", maintain_order=True):
        index = group["index"]
        result = result.scatter(index, _parse_group(values.gather(index)))
    return result


def _parse_group(values: pl.Series) -> pl.Series:
    try:
        return parse_timestamps(values)
    except TimestampParseError:
        pass
    parsed = {}
    for value in values.unique().to_list():
        try:
            parsed[value] = parse_timestamps(pl.Series([value], dtype=values.dtype))[0]
        except TimestampParseError:
            parsed[value] = None
    return pl.Series([parsed[value] for value in values.to_list()], dtype=UTC_MICROS)


def lenient_numbers(values: pl.Series, name: str, source: str, decimal: str = ".") -> pl.Series:
    """Float64; text that isn't a number and empty cells become null ('nan' / 'inf' stay)."""
    if values.dtype == pl.String:
        return number_text(values, decimal).alias(name)
    if values.dtype.is_numeric():
        return values.cast(pl.Float64).alias(name)
    if values.dtype == pl.Null:
        return pl.Series(name, [None] * values.len(), dtype=pl.Float64)
    raise DataError(f"{source}: column {name} holds {values.dtype}, expected numbers")


def _raw_symbols(table: pl.DataFrame, source: str, fallback) -> pl.Series:
    """The file's symbol column, else ``fallback()`` (the given or file-name symbol). A symbol
    that engine.symbols refuses stops the read: it would end up in reports and the brain."""
    name = symbol_column(table)
    if name is None:
        return pl.Series("symbol", [fallback()] * table.height, dtype=pl.String)
    symbols = table[name].cast(pl.String).str.strip_chars()
    check_symbol_column(symbols, source)
    return symbols.alias("symbol")

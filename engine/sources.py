"""Where bars come from: one file, a glob of many files, or a SQL table / query.

Every source yields the canonical multi-symbol frame (see engine.data): ts (UTC), symbol, open,
high, low, close, volume; sorted by (symbol, ts); one row per (symbol, ts). The checks and their
messages are load_ohlcv's, so a file reads the same whichever door it comes through.

Reading is split from parsing: bytes (or rows) are fetched with retries for transient errors
(engine.retry), then parsed once. A parse error never retries.
"""

from __future__ import annotations

import glob
import io
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from engine.data import (
    _PARQUET_SUFFIXES,
    _TEXT_SUFFIXES,
    CANONICAL_COLUMNS,
    VALUE_COLUMNS,
    DataError,
    _check_duplicates,
    _check_prices,
    _find_columns,
    _format_ts,
    _normalise_name,
    _numeric_column,
    _parse_timestamp_column,
    _symbol_from_path,
    check_times,
    read_text_table,
    text_format,
)
from engine.retry import RetriesExhausted, RetryPolicy, retry
from engine.symbols import SymbolError, check_symbol

_GLOB_CHARS = re.compile(r"[*?\[]")
_SQL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")
SYMBOL_COLUMN = "symbol"


class FileSource(BaseModel):
    """A CSV / TSV / TXT / Parquet file, or a glob of them (``data/*.parquet``).

    Each file's symbol is its `symbol` column when it has one, else ``symbol``, else the file
    name's stem up to its first '_', upper-cased (eurusd_hourly.csv -> EURUSD). ``separator``
    and ``decimal`` are load_ohlcv's, for text files.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str
    symbol: str | None = None
    separator: str | None = None
    decimal: str = "."


class SqlSource(BaseModel):
    """A table or a query on a SQL database (PostgreSQL in production; any SQLAlchemy URL).

    ``sql_url`` may be a callable returning the URL, called once per attempt (a secret store or
    a fail-over list can hand out a fresh one each time). The rows need the OHLCV columns named
    as in files, and a `symbol` column unless ``symbol`` is given.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    sql_url: str | Callable[[], str]
    table: str | None = None
    query: str | None = None
    symbol: str | None = None

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlSource:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of `table` and `query`")
        if self.table is not None and not _SQL_NAME.match(self.table):
            raise ValueError(f"table {self.table!r} is not a plain [schema.]name")
        return self


SourceSpec = str | Path | Mapping[str, Any] | FileSource | SqlSource


@dataclass(frozen=True)
class RetryOptions:
    """How reads retry; ``sleep`` and ``rng`` are injectable so tests record instead of wait."""

    policy: RetryPolicy = RetryPolicy()
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random | None = None
    on_retry: Callable[[int, BaseException, float], None] | None = None

    def run(self, call):
        return retry(call, policy=self.policy, sleep=self.sleep, rng=self.rng, on_retry=self.on_retry)


def parse_source_spec(spec: SourceSpec) -> FileSource | SqlSource:
    """A path or glob (str / Path), a mapping ({"path": …} or {"sql_url": …, "table"/"query": …}),
    or an already built source. Bad mappings raise DataError naming the key."""
    if isinstance(spec, FileSource | SqlSource):
        return spec
    if isinstance(spec, str | Path):
        return FileSource(path=str(spec))
    if not isinstance(spec, Mapping):
        raise DataError(f"source: expected a path or a mapping, got {type(spec).__name__}")
    model = SqlSource if "sql_url" in spec else FileSource
    try:
        return model.model_validate(dict(spec))
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "source"
        raise DataError(f"source: {key}: {first['msg']}") from None


def read_ohlcv_source(spec: SourceSpec, *, retries: RetryOptions | None = None) -> pl.DataFrame:
    """Read any source into the canonical multi-symbol frame, sorted by (symbol, ts).

    Raises DataError (one line naming the file or database and the problem) for anything wrong
    with the data or the source, including transient errors that outlived every retry.
    """
    source = parse_source_spec(spec)
    retries = retries or RetryOptions()
    if isinstance(source, SqlSource):
        return _read_sql(source, retries)
    separator, decimal = text_format(source.separator, source.decimal)
    paths = expand_paths(source.path)
    frames = [
        canonical_from_table(
            read_file_table(path, retries, separator=separator),
            str(path),
            source.symbol or None,
            default_symbol=_symbol_from_path(path),
            decimal=decimal,
        )
        for path in paths
    ]
    if len(frames) > 1:
        _check_duplicates_across_files(frames, [str(path) for path in paths])
    return pl.concat(frames).sort("symbol", "ts")


def expand_paths(path: str | Path) -> list[Path]:
    """One path, or the files a glob matches (sorted); a glob matching nothing is an error."""
    text = str(path)
    if not _GLOB_CHARS.search(text):
        return [Path(text)]
    matches = sorted(Path(match) for match in glob.glob(text, recursive=True) if Path(match).is_file())
    if not matches:
        raise DataError(f"{text}: no files match")
    return matches


def read_file_table(
    path: Path, retries: RetryOptions | None = None, *, separator: str | None = None
) -> pl.DataFrame:
    """A file's table with every column as text (CSV) or as stored (Parquet).

    The bytes are read with retries (network file systems fail and recover); parsing happens
    once, on bytes in memory. Messages match load_ohlcv's.
    """
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in _TEXT_SUFFIXES and suffix not in _PARQUET_SUFFIXES:
        known = ", ".join([*_TEXT_SUFFIXES, *sorted(_PARQUET_SUFFIXES)])
        raise DataError(f"{source}: unsupported file type {suffix or '(none)'!r}; expected {known}")
    try:
        data = (retries or RetryOptions()).run(path.read_bytes)
    except FileNotFoundError:
        raise DataError(f"{source}: file not found") from None
    except RetriesExhausted as error:
        raise DataError(
            f"{source}: cannot read file after {error.attempts} attempts: {_os_detail(error.last)}"
        ) from None
    except OSError as error:
        raise DataError(f"{source}: cannot read file: {_os_detail(error)}") from None
    return table_from_bytes(data, suffix, source, separator=separator)


def table_from_bytes(data: bytes, suffix: str, source: str, *, separator: str | None = None) -> pl.DataFrame:
    if suffix not in _PARQUET_SUFFIXES:
        return read_text_table(data, suffix, source, separator)  # load_ohlcv's own reader
    try:
        table = pl.read_parquet(io.BytesIO(data))
    except Exception as error:  # polars raises several kinds for malformed files
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"{source}: cannot read file: {detail}") from None
    if table.height == 0:
        raise DataError(f"{source}: no data rows")
    return table


def symbol_column(table: pl.DataFrame) -> str | None:
    return next((name for name in table.columns if _normalise_name(name) == SYMBOL_COLUMN), None)


def canonical_from_table(
    table: pl.DataFrame,
    source: str,
    symbol: str | None,
    *,
    default_symbol: str | None = None,
    decimal: str = ".",
    now: datetime | None = None,
) -> pl.DataFrame:
    """The strict canonical frame from a table of one source: every check of load_ohlcv,
    duplicates and times judged per symbol. ``symbol`` names a table without a symbol column;
    ``default_symbol`` is the fall-back (a file's stem)."""
    columns = _find_columns(table, source)
    written_ts = table[columns["ts"]]
    ts = _parse_timestamp_column(written_ts, source)
    values = {name: _numeric_column(table[columns[name]], name, source, decimal) for name in VALUE_COLUMNS}
    symbols = _symbols(table, source, symbol, default_symbol)
    frame = pl.DataFrame({"ts": ts, "symbol": symbols, **values}).select(CANONICAL_COLUMNS)
    if frame["symbol"].n_unique() == 1:
        _check_duplicates(frame, source)  # load_ohlcv's own message
    else:
        _check_duplicates_per_symbol(frame, source)
    _check_prices(frame, source)
    rows = pl.int_range(0, frame.height, eager=True)
    for (_symbol,), part in frame.with_columns(_row=rows).group_by("symbol", maintain_order=True):
        check_times(part, written_ts.gather(part["_row"]), source, now)
    return frame


def _symbols(table: pl.DataFrame, source: str, symbol: str | None, fallback: str | None) -> pl.Series:
    name = symbol_column(table)
    if name is None:
        if not (symbol or fallback):
            raise DataError(f"{source}: no symbol column; name the symbol in the source")
        try:
            check_symbol(symbol or fallback)
        except SymbolError as error:
            origin = "" if symbol else " (taken from the file name; name the symbol instead)"
            raise DataError(f"{source}: {error}{origin}") from None
        return pl.Series("symbol", [symbol or fallback] * table.height, dtype=pl.String)
    if symbol:
        raise DataError(f"{source}: has a {name!r} column, so a symbol may not be given as well")
    symbols = table[name].cast(pl.String).str.strip_chars()
    missing = symbols.is_null() | (symbols == "")
    if missing.any():
        raise DataError(f"{source}: missing symbol at row {int(missing.arg_true()[0]) + 1}")
    check_symbol_column(symbols, source)
    return symbols.alias("symbol")


def check_symbol_column(symbols: pl.Series, source: str) -> None:
    """Every distinct symbol of a file's symbol column through check_symbol; DataError names the
    first bad one's row."""
    for value in symbols.unique(maintain_order=True).drop_nulls().to_list():
        try:
            check_symbol(value)
        except SymbolError as error:
            row = int((symbols == value).arg_true()[0]) + 1
            raise DataError(f"{source}: {error} at row {row}") from None


def _check_duplicates_per_symbol(frame: pl.DataFrame, source: str) -> None:
    repeated = ~frame.select(pl.struct("symbol", "ts").is_first_distinct()).to_series()
    if not repeated.any():
        return
    second = int(repeated.arg_true()[0])
    symbol, moment = frame["symbol"][second], frame["ts"][second]
    first = int(((frame["symbol"] == symbol) & (frame["ts"] == moment)).arg_true()[0])
    raise DataError(
        f"{source}: duplicate timestamp {_format_ts(frame, second)} for {symbol} "
        f"at rows {first + 1} and {second + 1}"
    )


def _check_duplicates_across_files(frames: list[pl.DataFrame], names: list[str]) -> None:
    keyed = pl.concat(
        [frame.select("symbol", "ts").with_columns(file=pl.lit(index)) for index, frame in enumerate(frames)]
    )
    repeated = keyed.filter(pl.struct("symbol", "ts").is_duplicated()).sort("symbol", "ts", "file")
    if repeated.is_empty():
        return
    symbol, moment, first = repeated.row(0)
    second = repeated["file"][1]
    shown = pl.DataFrame({"ts": [moment]})
    raise DataError(f"{names[first]} and {names[second]} both hold {symbol} at {_format_ts(shown, 0)}")


def _os_detail(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return " ".join(str(error).split()) or type(error).__name__


# --- SQL ------------------------------------------------------------------------------------


def _read_sql(source: SqlSource, retries: RetryOptions) -> pl.DataFrame:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    label = "database"  # named in messages: the URL without its password, and what is read

    def fetch() -> pl.DataFrame:
        nonlocal label
        url = source.sql_url() if callable(source.sql_url) else source.sql_url
        try:
            parsed = make_url(url)
        except sa.exc.ArgumentError as error:
            raise DataError(f"source: sql_url: {error}") from None
        what = f"table {source.table}" if source.table else "query"
        label = f"{parsed.render_as_string(hide_password=True)} {what}"
        # A server that does not answer must fail, and be retried, rather than hang.
        connect_args = {"connect_timeout": 10} if parsed.get_backend_name() == "postgresql" else {}
        engine = sa.create_engine(parsed, connect_args=connect_args)
        try:
            with engine.connect() as conn:
                return pl.read_database(_statement(source, sa), conn)
        finally:
            engine.dispose()

    try:
        table = retries.run(fetch)
    except RetriesExhausted as error:
        raise DataError(
            f"{label}: cannot read after {error.attempts} attempts: {_db_detail(error.last)}"
        ) from None
    except DataError:
        raise
    except Exception as error:  # permanent database errors: no such table, bad SQL, bad login
        raise DataError(f"{label}: {_db_detail(error)}") from None
    if table.height == 0:
        raise DataError(f"{label}: no data rows")
    return canonical_from_table(table, label, source.symbol).sort("symbol", "ts")


def _statement(source: SqlSource, sa):
    if source.query is not None:
        return source.query
    schema, _, name = source.table.rpartition(".")
    return sa.select(sa.text("*")).select_from(sa.table(name, schema=schema or None))


def _db_detail(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__

"""Sources (file, glob, SQL) yield the canonical multi-symbol frame; transient errors are retried
with backoff, permanent ones are not."""

from __future__ import annotations

import errno
import os
import random
import uuid
from datetime import UTC, datetime

import polars as pl
import psycopg
import pytest

from engine.data import DataError, load_ohlcv
from engine.datasets import bundled_path
from engine.retry import RetriesExhausted, RetryPolicy, is_transient, retry
from engine.sources import RetryOptions, read_ohlcv_source
from tests.brain.conftest import POSTGRES_URL  # noqa: E402  (one place names the test server)
from tests.brain.conftest import _admin_connection as _admin  # noqa: E402

REFUSING_URL = "postgresql+psycopg://postgres@127.0.0.1:5999/test"  # nothing listens there


class Recorder:
    """Stands in for time.sleep: remembers the delays asked for, waits for none."""

    def __init__(self, on_sleep=None):
        self.delays: list[float] = []
        self.on_sleep = on_sleep

    def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.on_sleep is not None:
            self.on_sleep(len(self.delays))


def no_jitter(sleep: Recorder, attempts: int = 4) -> RetryOptions:
    return RetryOptions(
        policy=RetryPolicy(attempts=attempts, base_delay=0.1, max_delay=0.3, jitter=0.0), sleep=sleep
    )


# --- files and globs -------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["GOOG", "EURUSD", "BTCUSD"])
def test_a_single_file_reads_exactly_as_load_ohlcv(symbol):
    assert read_ohlcv_source(bundled_path(symbol)).equals(load_ohlcv(bundled_path(symbol)))


def test_a_glob_reads_one_symbol_per_file_named_by_the_file(tmp_path):
    for symbol in ("GOOG", "EURUSD", "BTCUSD"):
        load_ohlcv(bundled_path(symbol)).drop("symbol").write_parquet(
            tmp_path / f"{symbol.lower()}_bars.parquet"
        )
    frame = read_ohlcv_source(str(tmp_path / "*.parquet"))
    assert frame["symbol"].unique(maintain_order=True).to_list() == ["BTCUSD", "EURUSD", "GOOG"]
    assert frame.equals(frame.sort("symbol", "ts"))
    for symbol in ("GOOG", "EURUSD", "BTCUSD"):
        assert frame.filter(pl.col("symbol") == symbol).equals(load_ohlcv(bundled_path(symbol)))


def test_a_symbol_column_inside_the_files_wins_over_their_names(tmp_path):
    both = pl.concat([load_ohlcv(bundled_path("GOOG")), load_ohlcv(bundled_path("EURUSD")).head(500)])
    # Split by year into files named after nothing in particular; each holds both symbols.
    for (year,), part in both.group_by(pl.col("ts").dt.year()):
        part.sample(fraction=1.0, shuffle=True, seed=year).write_parquet(tmp_path / f"part_{year}.parquet")
    frame = read_ohlcv_source({"path": str(tmp_path / "part_*.parquet")})
    assert frame.equals(both.sort("symbol", "ts"))


def test_the_same_bar_in_two_files_is_refused_naming_both(tmp_path):
    bars = load_ohlcv(bundled_path("GOOG"))
    bars.head(10).write_parquet(tmp_path / "goog_a.parquet")
    bars.slice(9, 10).write_parquet(tmp_path / "goog_b.parquet")
    with pytest.raises(DataError) as caught:
        read_ohlcv_source(str(tmp_path / "goog_*.parquet"))
    assert str(caught.value) == (
        f"{tmp_path / 'goog_a.parquet'} and {tmp_path / 'goog_b.parquet'} both hold GOOG at 2004-09-01"
    )


def test_duplicates_are_judged_per_symbol_within_a_file(tmp_path):
    path = tmp_path / "two.csv"
    path.write_text(
        "ts,symbol,open,high,low,close,volume\n"
        "2024-01-01,AAA,1,2,0.5,1,10\n2024-01-01,BBB,1,2,0.5,1,10\n2024-01-01,AAA,1,2,0.5,1,10\n"
    )
    with pytest.raises(DataError, match=r"two.csv: duplicate timestamp 2024-01-01 for AAA at rows 1 and 3$"):
        read_ohlcv_source(path)
    path.write_text(
        "ts,symbol,open,high,low,close,volume\n2024-01-01,AAA,1,2,0.5,1,10\n2024-01-01,BBB,1,2,0.5,1,10\n"
    )
    assert read_ohlcv_source(path)["symbol"].to_list() == ["AAA", "BBB"]
    with pytest.raises(DataError, match="has a 'symbol' column, so a symbol may not be given as well"):
        read_ohlcv_source({"path": str(path), "symbol": "CCC"})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nowhere/*.csv", "nowhere/*.csv: no files match"),
        ({"path": "a.csv", "colour": "red"}, "source: colour: Extra inputs are not permitted"),
        (
            {"sql_url": "sqlite://", "table": "bars", "query": "select 1"},
            "source: Value error, give exactly one of `table` and `query`",
        ),
        ({"sql_url": "sqlite://", "table": "bars; drop table x"}, "is not a plain [schema.]name"),
        (42, "source: expected a path or a mapping, got int"),
    ],
)
def test_bad_specs_are_one_line_naming_the_key(spec, message):
    with pytest.raises(DataError) as caught:
        read_ohlcv_source(spec)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_permanent_file_errors_are_not_retried(tmp_path):
    sleep = Recorder()
    with pytest.raises(DataError, match="missing.csv: file not found$"):
        read_ohlcv_source(tmp_path / "missing.csv", retries=no_jitter(sleep))
    bad = tmp_path / "bad.csv"
    bad.write_text("ts,open,high,low,volume\n2024-01-01,1,2,0.5,10\n")
    with pytest.raises(DataError, match="missing column"):
        read_ohlcv_source(bad, retries=no_jitter(sleep))
    assert sleep.delays == []


# --- SQL on PostgreSQL -----------------------------------------------------------------------


@pytest.fixture
def bars_schema():
    """A fresh PostgreSQL schema holding table `bars` (timestamptz, two symbols); dropped after."""
    try:
        admin = _admin()
    except psycopg.Error as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no PostgreSQL server for the SQL source tests: {error}")
        pytest.skip(f"no PostgreSQL server: {str(error).splitlines()[0]}")
    schema = f"sources_test_{uuid.uuid4().hex[:12]}"
    expected = pl.concat(
        [load_ohlcv(bundled_path("GOOG")).head(50), load_ohlcv(bundled_path("EURUSD")).head(70)]
    )
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        admin.execute(
            f'CREATE TABLE "{schema}".bars (symbol text, ts timestamptz, "Open" float8, '
            "high numeric, low float8, close float8, volume bigint)"
        )
        with admin.cursor() as cursor:
            cursor.executemany(
                f'INSERT INTO "{schema}".bars VALUES (%s, %s, %s, %s, %s, %s, %s)',
                [
                    (r["symbol"], r["ts"], r["open"], r["high"], r["low"], r["close"], int(r["volume"]))
                    for r in expected.reverse().iter_rows(named=True)
                ],
            )
        try:
            yield schema, expected
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.postgres
def test_a_sql_table_or_query_reads_as_the_canonical_frame(bars_schema):
    schema, expected = bars_schema
    by_table = read_ohlcv_source({"sql_url": POSTGRES_URL, "table": f"{schema}.bars"})
    assert by_table.equals(expected.sort("symbol", "ts"))
    by_query = read_ohlcv_source(
        {
            "sql_url": POSTGRES_URL,
            "symbol": "G",
            "query": f'SELECT ts AS "Date", "Open", high, low, close, volume FROM "{schema}".bars '
            "WHERE symbol = 'GOOG'",
        }
    )
    assert by_query.drop("symbol").equals(expected.filter(pl.col("symbol") == "GOOG").drop("symbol"))
    assert by_query["symbol"].unique().to_list() == ["G"]


@pytest.mark.postgres
def test_a_refusing_database_is_retried_with_backoff_until_it_answers(bars_schema):
    schema, expected = bars_schema
    handed_out = []

    def url_factory() -> str:  # the server "comes back" on the third attempt
        handed_out.append(REFUSING_URL if len(handed_out) < 2 else POSTGRES_URL)
        return handed_out[-1]

    sleep = Recorder()
    frame = read_ohlcv_source({"sql_url": url_factory, "table": f"{schema}.bars"}, retries=no_jitter(sleep))
    assert frame.equals(expected.sort("symbol", "ts"))
    assert handed_out == [REFUSING_URL, REFUSING_URL, POSTGRES_URL]
    assert sleep.delays == [0.1, 0.2]


def test_a_database_that_never_answers_fails_after_every_attempt_in_one_line():
    sleep = Recorder()
    with pytest.raises(DataError) as caught:
        read_ohlcv_source({"sql_url": REFUSING_URL, "table": "bars"}, retries=no_jitter(sleep))
    message = str(caught.value)
    assert message.startswith(
        "postgresql+psycopg://postgres@127.0.0.1:5999/test table bars: cannot read after 4 attempts:"
    )
    assert "5999" in message and "\n" not in message
    assert sleep.delays == [0.1, 0.2, 0.3]  # doubled each time, capped at max_delay


@pytest.mark.postgres
@pytest.mark.parametrize(
    "url",
    [POSTGRES_URL.replace("postgres@", "nobody_here@"), POSTGRES_URL.rsplit("/", 1)[0] + "/no_such_database"],
)
def test_a_server_refusing_the_login_or_the_database_is_not_retried(bars_schema, url):
    sleep = Recorder()
    with pytest.raises(DataError, match="does not exist"):
        read_ohlcv_source({"sql_url": url, "table": "bars", "symbol": "X"}, retries=no_jitter(sleep))
    assert sleep.delays == []


@pytest.mark.postgres
def test_a_missing_table_is_permanent_and_not_retried(bars_schema):
    schema, _ = bars_schema
    sleep = Recorder()
    with pytest.raises(DataError, match=f"table {schema}.nope: .*does not exist"):
        read_ohlcv_source({"sql_url": POSTGRES_URL, "table": f"{schema}.nope"}, retries=no_jitter(sleep))
    assert sleep.delays == []


# --- the retry helper -------------------------------------------------------------------------


def test_transient_errors_are_retried_and_the_schedule_doubles_up_to_the_cap():
    failures = [OSError(errno.ESTALE, "Stale file handle"), TimeoutError("slow"), ConnectionResetError()]
    calls = []

    def flaky() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return "read"

    sleep = Recorder()
    assert (
        retry(flaky, attempts=5, base_delay=1.0, max_delay=3.0, sleep=sleep, policy=RetryPolicy(jitter=0))
        == "read"
    )
    assert len(calls) == 4 and sleep.delays == [1.0, 2.0, 3.0]


def test_jitter_shortens_each_wait_by_a_random_fraction_within_bounds():
    policy = RetryPolicy(attempts=6, base_delay=0.5, max_delay=4.0, jitter=0.5)
    sleep, draws = Recorder(), random.Random(7)
    with pytest.raises(RetriesExhausted) as caught:
        retry(
            lambda: (_ for _ in ()).throw(TimeoutError("down")),
            policy=policy,
            sleep=sleep,
            rng=random.Random(7),
        )
    nominal = [0.5, 1.0, 2.0, 4.0, 4.0]
    assert sleep.delays == [d * (1 - 0.5 * draws.random()) for d in nominal]
    assert all(d / 2 <= got <= d for d, got in zip(nominal, sleep.delays, strict=True))
    assert caught.value.attempts == 6 and isinstance(caught.value.last, TimeoutError)
    assert isinstance(caught.value.__cause__, TimeoutError)


def test_a_file_that_appears_between_attempts_is_read(tmp_path):
    # A network mount answering EIO until it recovers: the retry hook "recovers" it by writing
    # the file, so the second attempt reads it. No waiting happens.
    target = tmp_path / "late.csv"

    def read() -> bytes:
        if not target.exists():
            raise OSError(errno.EIO, "Input/output error", str(target))
        return target.read_bytes()

    sleep = Recorder(on_sleep=lambda n: target.write_text("ready"))
    assert retry(read, policy=RetryPolicy(jitter=0, base_delay=0.25), sleep=sleep) == b"ready"
    assert sleep.delays == [0.25]


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad"),
        FileNotFoundError(2, "gone"),
        PermissionError(13, "no"),
        DataError("x.csv: missing column(s): close"),
        KeyError("k"),
    ],
)
def test_permanent_errors_propagate_at_once_unchanged(error):
    sleep, calls = Recorder(), []

    def fails():
        calls.append(1)
        raise error

    with pytest.raises(type(error)) as caught:
        retry(fails, sleep=sleep)
    assert caught.value is error and calls == [1] and sleep.delays == []


def test_what_counts_as_transient():
    import sqlalchemy.exc

    assert is_transient(OSError(errno.ETIMEDOUT, "timed out"))
    assert is_transient(ConnectionRefusedError())
    assert is_transient(sqlalchemy.exc.OperationalError("connect", {}, Exception("refused")))
    assert is_transient(psycopg.OperationalError("server closed the connection"))
    assert not is_transient(OSError(errno.ENOSPC, "No space left on device"))
    assert not is_transient(sqlalchemy.exc.ProgrammingError("select", {}, Exception("no table")))
    assert not is_transient(FileNotFoundError(2, "gone"))
    # A tuple of types works too, for callers with their own idea of transient.
    sleep = Recorder()
    with pytest.raises(RetriesExhausted):
        retry(
            lambda: (_ for _ in ()).throw(KeyError("k")),
            attempts=2,
            transient=(KeyError,),
            sleep=sleep,
            policy=RetryPolicy(jitter=0, base_delay=0.01),
        )
    assert sleep.delays == [0.01]


def test_policy_values_are_checked():
    with pytest.raises(ValueError, match="attempts must be at least 1"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="jitter must be between 0 and 1"):
        RetryPolicy(jitter=2)


def test_sources_accept_sqlite_urls_too(tmp_path):
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'bars.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE bars (ts TEXT, open REAL, high REAL, low REAL, close REAL, volume REAL)"
        )
        conn.exec_driver_sql(
            "INSERT INTO bars VALUES ('2024-01-02 00:00:00', 1, 2, 0.5, 1.5, 10), "
            "('2024-01-01 00:00:00', 1, 2, 0.5, 1.2, 10)"
        )
    engine.dispose()
    frame = read_ohlcv_source({"sql_url": url, "table": "bars", "symbol": "X"})
    assert frame["ts"].to_list() == [datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)]
    assert frame["close"].to_list() == [1.2, 1.5]


def test_a_symbol_column_with_an_unusable_symbol_names_its_row(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("ts,symbol,open,high,low,close,volume\n2024-01-01,AAA,1,2,0.5,1,10\n"
                    "2024-01-01,B\u202eB,1,2,0.5,1,10\n")  # fmt: skip
    with pytest.raises(DataError, match=r"many.csv: symbol 'B\\u202eB': the control .* at row 2$"):
        read_ohlcv_source(str(path))
    from engine.raw import read_raw_ohlcv

    with pytest.raises(DataError, match="at row 2"):
        read_raw_ohlcv(path)


def test_file_sources_take_a_separator_and_decimal_mark_and_refuse_what_load_ohlcv_refuses(tmp_path):
    path = tmp_path / "eurusd_1d.csv"
    path.write_text("Date;Open;High;Low;Close;Volume\n2024-01-02;1,2345;1,25;1,2;1,24;100\n")
    frame = read_ohlcv_source({"path": str(path), "separator": ";", "decimal": ","})
    assert frame.row(0)[1:] == ("EURUSD", 1.2345, 1.25, 1.2, 1.24, 100.0)
    far = tmp_path / "far.csv"
    far.write_text("ts,open,high,low,close,volume\n2024-01-01,1,2,0.5,1,10\n9999-01-01,1,2,0.5,1,10\n")
    with pytest.raises(DataError, match="far.csv: timestamp 9999-01-01 at row 2 is in the future"):
        read_ohlcv_source(str(far))
    doubled = tmp_path / "doubled.csv"
    doubled.write_text("ts,open,high,low,close,close,volume\n2024-01-01,1,2,0.5,1,1.5,10\n")
    with pytest.raises(DataError, match="both look like 'close'"):
        read_ohlcv_source(str(doubled))

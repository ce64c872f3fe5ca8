"""Brain speed: metric rows ingested per second, and the "latest metrics per slot" query at size.

    .venv/bin/python benchmarks/bench_brain.py [--ingest-rows 200000] [--batch 5000]
        [--rows 5000000] [--slots 500] [--repeats 5] [--backends sqlite,postgresql]

(a) Ingest: the same metric rows (name, value, fold, ts, scope) written to `model_metrics` through
`Brain.record_metrics` (SQLAlchemy Core, one transaction per batch, with its version check), against
a bare DB-API `executemany` of the same rows and batches (sqlite3 / psycopg), and on PostgreSQL
against `COPY model_metrics (...) FROM STDIN` of the same rows. Rows per second and the ratio.
(b) Query: a brain of `--slots` slots with two versions each (the latest one carrying its
out-of-sample metrics, overall and per fold) and `--rows` metric rows in all, most of them live
points of the latest versions (what a slot accumulates), built with bulk inserts (sqlite3
`executemany` in one transaction / PostgreSQL COPY); then `Brain.status()`, which is what
`huracan status` and the console's snapshot run for "latest metrics per slot", timed best of
`--repeats` after one warm-up, plus the query plan of its metrics query; likewise
`Brain.live_summaries()` (each champion's newest live metrics, the console's live columns) and
the console's whole per-slot snapshot (`scheduler.services.overview.slot_overviews`).
PostgreSQL: a fresh schema in the `test` database at 127.0.0.1:5432 (dropped afterwards).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from brain import Brain, open_brain  # noqa: E402
from brain.live import LIVE_METRICS  # noqa: E402

POSTGRES_URL = os.environ.get("HURACAN_BENCH_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
METRIC_NAMES = ("mae", "rmse", "hit_rate", "ic", "sharpe")
COLUMNS = ("version_id", "name", "value", "fold", "ts", "scope")
T0 = datetime(2025, 1, 1, tzinfo=UTC)
# The index the "newest live metric per (version, name)" query lacks: ts, so the newest row of a
# group is found from the index alone. Partial (live, overall rows only): with `scope = 'live' AND
# fold IS NULL` in the index's WHERE, PostgreSQL knows the index is ordered by ts once version
# and name are fixed (an IS NULL column inside the key would hide that order from its planner).
TRY_INDEX = "version_id, name, ts"
TRY_INDEX_WHERE = "scope = 'live' AND fold IS NULL"


# ---- where the brains live ----------------------------------------------------------------

def _pg_connect(**kwargs) -> psycopg.Connection:
    url = make_url(POSTGRES_URL)
    return psycopg.connect(host=url.host, port=url.port or 5432, user=url.username,
                           password=url.password, dbname=url.database, **kwargs)


@contextmanager
def fresh_brain(backend: str) -> Iterator[tuple[str, Callable[[], object]]]:
    """(brain URL, a function giving a bare DB-API connection to the same database)."""
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="bench-brain-"))
        path = folder / "brain.db"
        try:
            yield f"sqlite:///{path}", lambda: sqlite3.connect(path)
        finally:
            for file in folder.iterdir():
                file.unlink()
            folder.rmdir()
        return
    schema = f"bench_brain_{uuid.uuid4().hex[:10]}"
    with _pg_connect(autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield (f"{POSTGRES_URL}?options=-csearch_path%3D{schema}",
               lambda: _pg_connect(options=f"-csearch_path={schema}"))
    finally:
        with _pg_connect(autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def new_version(brain: Brain, symbol: str, metrics: list[dict] | None = None) -> int:
    slot = brain.ensure_slot(symbol, "1h", "fwd_ret_1", 1)
    version = brain.add_version(slot.key, model_kind="lightgbm", manifest={"folds": []},
                                artifact=f"artifact {symbol} {uuid.uuid4()}".encode(),
                                artifact_format="lightgbm-text", metrics=metrics or [],
                                data_start=T0, data_end=T0 + timedelta(days=365))
    return version.id


def metric_dicts(count: int, start: int = 0) -> list[dict]:
    return [{"name": METRIC_NAMES[i % 5], "value": (i % 101) / 100.0,
             "ts": T0 + timedelta(minutes=i), "scope": "live"} for i in range(start, start + count)]


def as_tuples(version_id: int, rows: list[dict], backend: str) -> list[tuple]:
    """The rows as the database stores them (SQLite: SQLAlchemy's naive-UTC text timestamps)."""
    def stamp(ts: datetime):
        if backend != "sqlite":
            return ts
        return ts.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return [(version_id, row["name"], row["value"], row.get("fold"), stamp(row["ts"]), row["scope"])
            for row in rows]


# ---- (a) ingest ---------------------------------------------------------------------------

def insert_sql(backend: str) -> str:
    marks = ", ".join("?" if backend == "sqlite" else "%s" for _ in COLUMNS)
    return f"INSERT INTO model_metrics ({', '.join(COLUMNS)}) VALUES ({marks})"


def ingest(backend: str, total: int, batch: int) -> dict[str, float]:
    """Rows per second of each way, every way into its own fresh version of the same brain."""
    rates = {}
    with fresh_brain(backend) as (url, bare_connect), open_brain(url) as brain:
        batches = [metric_dicts(min(batch, total - start), start) for start in range(0, total, batch)]

        version_id = via_brain = new_version(brain, "VIA_BRAIN")
        started = time.perf_counter()
        for rows in batches:
            brain.record_metrics(version_id, rows)
        rates["Brain.record_metrics"] = total / (time.perf_counter() - started)

        version_id = via_executemany = new_version(brain, "VIA_EXECUTEMANY")
        tuples = [as_tuples(version_id, rows, backend) for rows in batches]
        connection = bare_connect()
        started = time.perf_counter()
        for rows in tuples:
            # One transaction per batch, as record_metrics does (a psycopg `with connection`
            # would close the connection, so its own transaction block).
            with connection if backend == "sqlite" else connection.transaction():
                connection.cursor().executemany(insert_sql(backend), rows)
        rates[f"bare {'sqlite3' if backend == 'sqlite' else 'psycopg'} executemany"] = (
            total / (time.perf_counter() - started))
        connection.close()

        if backend == "postgresql":
            version_id = new_version(brain, "VIA_COPY")
            tuples = [as_tuples(version_id, rows, backend) for rows in batches]
            connection = bare_connect()
            started = time.perf_counter()
            for rows in tuples:
                with connection.transaction(), connection.cursor().copy(
                        f"COPY model_metrics ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            rates["PostgreSQL COPY"] = total / (time.perf_counter() - started)
            connection.close()
        counts = {vid: len(brain.version_metrics(vid)) for vid in (via_brain, via_executemany)}
        assert set(counts.values()) == {total}, counts  # every way stored every row
    return rates


# ---- (b) the latest-metrics-per-slot query at size -----------------------------------------

def build_big_brain(backend: str, url: str, bare_connect, slots: int, rows: int) -> float:
    """`slots` slots x 2 versions; the latest carries oos metrics; live points fill up to `rows`."""
    started = time.perf_counter()
    with open_brain(url) as brain:
        latest_ids = []
        for index in range(slots):
            symbol = f"SYM{index:04d}"
            new_version(brain, symbol, [{"name": n, "value": 0.5} for n in METRIC_NAMES])
            oos = [{"name": n, "value": 0.01 * (index % 97)} for n in METRIC_NAMES]
            oos += [{"name": n, "value": 0.01 * fold, "fold": fold}
                    for fold in range(5) for n in METRIC_NAMES]
            latest_ids.append(new_version(brain, symbol, oos))
            # The latest is the champion: the console's live columns read the champion's rows.
            brain.promote_version(f"{symbol}:1h:fwd_ret_1", 2, actor="bench", reason="benchmark brain")
    stored = slots * (5 + 30)
    per_slot = max(0, (rows - stored) // slots)
    connection = bare_connect()
    for position, version_id in enumerate(latest_ids):
        live = as_tuples(version_id, [{"name": f"live_{LIVE_METRICS[i % 5]}", "value": (i % 101) / 100.0,
                                       "ts": T0 + timedelta(hours=i // 5), "scope": "live"}
                                      for i in range(per_slot)], backend)
        if backend == "sqlite":
            connection.executemany(insert_sql(backend), live)
            if position % 50 == 49:
                connection.commit()
        else:
            with connection.cursor().copy(f"COPY model_metrics ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in live:
                    copy.write_row(row)
            connection.commit()
    connection.commit()
    if backend == "postgresql":
        connection.execute("ANALYZE model_metrics")
        connection.commit()
    else:
        connection.execute("ANALYZE")
        connection.commit()
    connection.close()
    return time.perf_counter() - started


def metrics_query(brain: Brain, read: Callable[[], object]) -> tuple[str, object]:
    """The SQL and parameters of the model_metrics query inside `read`, as the engine sent them."""
    from sqlalchemy import event

    statements: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))

    event.listen(brain._engine, "before_cursor_execute", capture)
    try:
        read()
    finally:
        event.remove(brain._engine, "before_cursor_execute", capture)
    return next((s, p) for s, p in statements if "model_metrics" in s)


def query_plan(backend: str, brain: Brain, bare_connect, read: Callable[[], object]) -> str:
    sql, parameters = metrics_query(brain, read)
    connection = bare_connect()
    try:
        if backend == "sqlite":
            plan = connection.execute(f"EXPLAIN QUERY PLAN {sql}", parameters).fetchall()
            return "\n".join(f"    {row[-1]}" for row in plan)
        plan = connection.execute(f"EXPLAIN ANALYZE {sql}", parameters).fetchall()
        return "\n".join(f"    {row[0]}" for row in plan)
    finally:
        connection.close()


def time_status(backend: str, slots: int, rows: int, repeats: int, try_index: bool) -> None:
    with fresh_brain(backend) as (url, bare_connect):
        build_seconds = build_big_brain(backend, url, bare_connect, slots, rows)
        with open_brain(url) as brain:
            counted = bare_connect()
            total = counted.execute("SELECT count(*) FROM model_metrics").fetchone()[0]
            counted.close()
            print(f"  {backend}: built {slots} slots, {total:,} metric rows in {build_seconds:.1f} s")
            summaries = brain.status()  # a check of what it returns
            assert len(summaries) == slots and all(len(s.metrics) == 5 for s in summaries)
            live = brain.live_summaries()
            assert len(live) == slots and all(row[name] is not None for row in live.values()
                                              for name in LIVE_METRICS)
            reads = {"Brain.status()": brain.status, "Brain.live_summaries()": brain.live_summaries}
            try:
                from scheduler.services.overview import slot_overviews

                reads["console snapshot (slot_overviews)"] = lambda: slot_overviews(brain)
            except ImportError:  # the console's module moved: time the brain's parts only
                pass
            for label, read in reads.items():
                read()  # warm-up
                times = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    read()
                    times.append(time.perf_counter() - started)
                times.sort()
                print(f"  {backend}: {label} at {total:,} rows: best {times[0] * 1000:.1f} ms, "
                      f"median {times[len(times) // 2] * 1000:.1f} ms over {repeats} runs")
            for label, read in list(reads.items())[:2]:
                print(f"  {backend}: plan of {label}'s metrics query:\n"
                      f"{query_plan(backend, brain, bare_connect, read)}")
            if try_index:
                # Not a migration: a throwaway brain, to measure what the index would buy.
                connection = bare_connect()
                started = time.perf_counter()
                connection.execute(f"CREATE INDEX ix_bench_metrics_latest ON model_metrics ({TRY_INDEX}) "
                                   f"WHERE {TRY_INDEX_WHERE}")
                connection.execute("ANALYZE")
                connection.commit()
                connection.close()
                print(f"  {backend}: with an index on model_metrics ({TRY_INDEX}) WHERE {TRY_INDEX_WHERE}, "
                      f"built in {time.perf_counter() - started:.1f} s:")
                for label, read in list(reads.items())[1:]:
                    read()
                    times = []
                    for _ in range(repeats):
                        started = time.perf_counter()
                        read()
                        times.append(time.perf_counter() - started)
                    times.sort()
                    print(f"  {backend}:   {label}: best {times[0] * 1000:.1f} ms, "
                          f"median {times[len(times) // 2] * 1000:.1f} ms")
                print(f"  {backend}: plan of Brain.live_summaries()'s metrics query with it:\n"
                      f"{query_plan(backend, brain, bare_connect, brain.live_summaries)}")
                time_newest_by_descent(backend, brain, bare_connect, repeats)


def newest_by_descent_sql() -> str:
    """The same answer as live_summaries' metrics query, asked per (champion, metric name): with
    the index above each is one descent of the index (ORDER BY ts DESC LIMIT 1) instead of a
    max(ts) over all of a champion's rows. The live metric names are a fixed set
    (scheduler.services.live_metrics.LIVE_METRIC_NAMES), so they can be listed."""
    names = " UNION ALL ".join(f"SELECT 'live_{name}' AS name" for name in LIVE_METRICS)
    return f"""
        SELECT m.version_id, m.name, m.value, m.ts
        FROM (SELECT (SELECT n2.id FROM model_metrics n2
                      WHERE n2.version_id = c.version_id AND n2.scope = 'live' AND n2.fold IS NULL
                        AND n2.name = n.name ORDER BY n2.ts DESC LIMIT 1) AS id
              FROM (SELECT p.version_id FROM promotions p
                    WHERE p.id = (SELECT max(p2.id) FROM promotions p2 WHERE p2.slot_key = p.slot_key)) c
              CROSS JOIN ({names}) n) newest
        JOIN model_metrics m ON m.id = newest.id
        ORDER BY m.id"""


def time_newest_by_descent(backend: str, brain: Brain, bare_connect, repeats: int) -> None:
    connection = bare_connect()
    sql = newest_by_descent_sql()
    rows = connection.execute(sql).fetchall()
    expected = sorted(value for summary in brain.live_summaries().values()
                      for name, value in summary.items() if name in LIVE_METRICS)
    assert sorted(row[2] for row in rows) == expected, "the proposed query answers differently"
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        connection.execute(sql).fetchall()
        times.append(time.perf_counter() - started)
    times.sort()
    connection.close()
    print(f"  {backend}:   proposed query, newest row per (champion, name) by index descent: "
          f"best {times[0] * 1000:.1f} ms, median {times[len(times) // 2] * 1000:.1f} ms ({len(rows)} rows)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ingest-rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000, help="rows per record_metrics call")
    parser.add_argument("--rows", type=int, default=5_000_000, help="metric rows for the query")
    parser.add_argument("--slots", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-query", action="store_true")
    parser.add_argument("--try-index", action="store_true",
                        help="then add the index the live query lacks (TRY_INDEX) and time it again")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    print(f"load average at start: {os.getloadavg()[0]:.2f}")

    if not args.skip_ingest:
        print(f"(a) ingest of {args.ingest_rows:,} metric rows in batches of {args.batch:,}")
        for backend in backends:
            rates = ingest(backend, args.ingest_rows, args.batch)
            baseline = rates["Brain.record_metrics"]
            for way, rate in rates.items():
                ratio = "" if way == "Brain.record_metrics" else f"  ({rate / baseline:.2f}x record_metrics)"
                print(f"  {backend}: {way:<28} {rate:>12,.0f} rows/s{ratio}")
    if not args.skip_query:
        print(f"(b) latest metrics per slot (Brain.status) at {args.rows:,} rows, {args.slots} slots")
        for backend in backends:
            time_status(backend, args.slots, args.rows, args.repeats, args.try_index)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

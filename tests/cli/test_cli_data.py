"""`huracan data …` as a user runs it: real processes, real files, real brains."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pytest

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.resample import resample_ohlcv
from tests.cli.test_cli import run
from tests.engine.test_engine_quality import DIRTY_ROWS, EXPECTED, clean_rows, write_csv


def test_validate_names_every_flaw_and_exits_3(tmp_path):
    dirty = write_csv(tmp_path / "dirty_1h.csv", DIRTY_ROWS)
    done = run("data", "validate", "--data", dirty, "--timeframe", "1h", "--json")
    assert done.returncode == 3, done.stderr
    (report,) = json.loads(done.stdout)["reports"]
    assert {issue["kind"]: issue["count"] for issue in report["issues"]} == {
        k: c for k, (c, _) in EXPECTED.items() if k != "future_timestamps"  # 2024 is past by the clock
    }
    assert report["severity"] == "error" and report["source"] == str((tmp_path / "dirty_1h.csv").resolve())
    text = run("data", "validate", "--data", dirty, "--timeframe", "1h")
    assert text.returncode == 3
    assert "error   unparsable_timestamps" in text.stdout and "row 16 (DIRTY unreadable time)" in text.stdout


def test_validate_stores_the_report_and_warnings_exit_0(tmp_path):
    url = f"sqlite:///{tmp_path / 'brain.db'}"
    done = run(
        "data",
        "validate",
        "--data",
        str(bundled_path("EURUSD")),
        "--calendar",
        "weekdays",
        "--store",
        "--brain",
        url,
        "--json",
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["stored"] and not document["has_errors"]
    (report,) = document["reports"]
    assert report["timeframe"] == "1h" and [i["kind"] for i in report["issues"]] == ["gaps"]
    with open_brain(url) as brain:
        stored = brain.list_quality_reports(latest=True)
    assert [(r.kind, r.count, r.severity, r.symbol, r.timeframe, r.calendar) for r in stored] == [
        ("summary", 5000, "warning", "EURUSD", "1h", "weekdays"),
        ("gaps", 2, "warning", "EURUSD", "1h", "weekdays"),
    ]
    assert stored[0].source == str(bundled_path("EURUSD").resolve())


def test_validate_reads_a_glob_one_report_per_file(tmp_path):
    for symbol in ("GOOG", "BTCUSD"):
        load_ohlcv(bundled_path(symbol)).write_parquet(tmp_path / f"{symbol.lower()}.parquet")
    done = run("data", "validate", "--data", str(tmp_path / "*.parquet"), "--calendar", "none", "--json")
    assert done.returncode == 0, done.stderr
    reports = json.loads(done.stdout)["reports"]
    assert [(r["symbols"], r["rows"], r["severity"]) for r in reports] == [
        (["BTCUSD"], 156, "ok"),
        (["GOOG"], 2148, "ok"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "--data", "missing.csv"], "missing.csv: file not found"),
        (
            ["validate", "--data", str(bundled_path("GOOG")), "--timeframe", "daily"],
            "unknown timeframe 'daily'",
        ),
        (
            ["resample", "--data", str(bundled_path("GOOG")), "--timeframe", "1w", "--output", "x.xlsx"],
            "--output x.xlsx: use a .parquet or .csv file name",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    done = run("data", *args)
    assert done.returncode == 2
    assert done.stderr.startswith("huracan: error: ") and message in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def fixable(tmp_path) -> str:
    rows = clean_rows(12)
    # hour 3 and 4 swapped, hour 4 repeated, hour 8 missing
    return write_csv(tmp_path / "fix_1h.csv", [*rows[:3], rows[4], rows[3], rows[4], *rows[5:8], *rows[9:]])


def test_repair_writes_only_what_was_asked_and_refuses_while_errors_remain(tmp_path):
    source, output = fixable(tmp_path), tmp_path / "fixed.parquet"
    refused = run("data", "repair", "--data", source, "--output", str(output), "--sort")
    assert (
        refused.returncode == 2
        and "not written" in refused.stderr
        and "duplicate_timestamps" in refused.stderr
    )
    assert not output.exists()

    done = run(
        "data",
        "repair",
        "--data",
        source,
        "--output",
        str(output),
        "--sort",
        "--drop-duplicates",
        "--fill-gaps",
        "1",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert [(a["action"], a["rows"]) for a in document["repairs"]] == [
        ("drop_duplicates", 1),
        ("sort", 2),
        ("fill_gaps", 1),
    ]
    assert document["remaining"] == [] and document["rows_out"] == 12
    written = pl.read_parquet(output)
    assert written.columns == ["ts", "symbol", "open", "high", "low", "close", "volume", "filled"]
    assert written["ts"].is_sorted() and written["ts"].is_unique().all()
    assert written.filter("filled")["ts"].to_list() == [datetime(2024, 3, 4, 8, tzinfo=UTC)]
    assert load_ohlcv(output.with_suffix(".parquet")).height == 12  # the result loads strictly


def test_resample_writes_the_engines_bars(tmp_path):
    output = tmp_path / "eurusd_1d.parquet"
    done = run(
        "data",
        "resample",
        "--data",
        str(bundled_path("EURUSD")),
        "--timeframe",
        "1d",
        "--output",
        str(output),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    expected = resample_ohlcv(load_ohlcv(bundled_path("EURUSD")), "1d")
    assert pl.read_parquet(output).equals(expected)
    assert json.loads(done.stdout)["bars_out"] == expected.height


def test_import_alt_stores_rows_and_bad_files_store_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'brain.db'}"
    good = tmp_path / "btcusdt_funding.csv"
    good.write_text("ts,rate\n2024-01-01 00:00,0.0001\n2024-01-01 08:00,-0.0002\n")
    done = run("data", "import-alt", "funding_rate", str(good), "--brain", url, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == 2
    with open_brain(url) as brain:
        assert brain.load_alt_data("funding_rate", "BTCUSDT")["rate"].to_list() == [0.0001, -0.0002]
    bad = tmp_path / "eth_oi.csv"
    bad.write_text("ts,open_interest\n2024-01-01 00:00,10\n2024-01-01 08:00,-3\n")
    refused = run("data", "import-alt", "open_interest", str(bad), "--brain", url)
    assert refused.returncode == 2 and "bad open_interest -3.0 at row 2" in refused.stderr
    with open_brain(url) as brain:
        assert brain.load_alt_data("open_interest", "ETH").is_empty()


def test_validate_reads_european_files_with_the_options_and_calls_the_year_9999_an_error(tmp_path):
    european = tmp_path / "eurusd_1d.csv"
    european.write_text("Date;Open;High;Low;Close;Volume\n2024-01-02;1,2345;1,25;1,2;1,24;100\n")
    unreadable = run("data", "validate", "--data", str(european))  # ';' is sniffed, '1,2345' is no number
    assert unreadable.returncode == 3 and "missing_values" in unreadable.stdout
    done = run("data", "validate", "--data", str(european), "--separator", ";", "--decimal", ",", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["reports"][0]["severity"] == "ok"
    far = tmp_path / "far.csv"
    far.write_text("ts,open,high,low,close,volume\n2024-01-01,1,2,0.5,1,10\n9999-01-01,1,2,0.5,1,10\n")
    late = run("data", "validate", "--data", str(far), "--calendar", "none", "--json")
    assert late.returncode == 3
    (issue,) = json.loads(late.stdout)["reports"][0]["issues"]
    assert (issue["kind"], issue["severity"]) == ("future_timestamps", "error")
    bad_symbol = run("data", "validate", "--data", str(far), "--symbol", "A\x1bB")
    assert bad_symbol.returncode == 2
    assert bad_symbol.stderr.strip() == (
        "huracan: error: --symbol: symbol 'A\\u001bB': the control or format character U+001B is not "
        "allowed; use letters, digits and . _ - / ^ ="
    )

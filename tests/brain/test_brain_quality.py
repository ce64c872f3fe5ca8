"""Data quality reports are stored whole, read back as written, and the newest per source is
what the Data view gets; migration 3 upgrades a version-2 brain without losing anything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, inspect, select

from brain import SCHEMA_VERSION, BrainError, QualityLogRecord, open_brain, schema
from engine.datasets import bundled_path
from engine.quality import validate_ohlcv
from engine.raw import read_raw_ohlcv

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def rows(severity: str = "warning", **extra) -> list[dict]:
    return [
        {
            "kind": "summary",
            "count": 100,
            "severity": severity,
            "example": "100 rows",
            "details": {"symbols": ["X"]},
        },
        {
            "kind": "gaps",
            "count": 3,
            "severity": "warning",
            "example": "row 7 (X 2024-01-01): 2 bar(s) missing",
            "details": {"missing_bars": 5, "first_ts": T0},
            **extra,
        },
    ]


def test_a_report_round_trips_with_its_details(brain):
    written = brain.record_quality_report(
        "/data/x.csv", rows(), symbol="X", timeframe="1h", calendar="weekdays", ts=T0
    )
    assert [r.kind for r in written] == ["summary", "gaps"]
    stored = brain.list_quality_reports()
    assert stored == [
        QualityLogRecord(
            id=written[0].id,
            ts=T0,
            source="/data/x.csv",
            symbol="X",
            timeframe="1h",
            calendar="weekdays",
            kind="summary",
            count=100,
            severity="warning",
            example="100 rows",
            details={"symbols": ["X"]},
        ),
        QualityLogRecord(
            id=written[1].id,
            ts=T0,
            source="/data/x.csv",
            symbol="X",
            timeframe="1h",
            calendar="weekdays",
            kind="gaps",
            count=3,
            severity="warning",
            example="row 7 (X 2024-01-01): 2 bar(s) missing",
            details={"missing_bars": 5, "first_ts": T0.isoformat()},
        ),
    ]


def test_latest_keeps_the_newest_report_of_each_source(brain):
    brain.record_quality_report("a.csv", rows("error"), ts=T0)
    brain.record_quality_report("a.csv", rows("warning")[:1], ts=T0 + timedelta(hours=1))
    brain.record_quality_report("b.csv", rows("warning", symbol="B"), ts=T0 - timedelta(days=1))
    latest = brain.list_quality_reports(latest=True)
    assert [(r.source, r.kind, r.severity, r.symbol) for r in latest] == [
        ("a.csv", "summary", "warning", None),
        ("b.csv", "summary", "warning", None),
        ("b.csv", "gaps", "warning", "B"),  # a row may name its own symbol
    ]
    assert len(brain.list_quality_reports()) == 5
    assert [r.ts for r in brain.list_quality_reports(source="a.csv")] == [T0 + timedelta(hours=1), T0, T0]
    assert len(brain.list_quality_reports(since=T0)) == 3
    assert [r.kind for r in brain.list_quality_reports(source="a.csv", latest=True)] == ["summary"]


def test_an_engine_report_is_stored_as_its_log_rows(brain):
    report = validate_ohlcv(read_raw_ohlcv(bundled_path("EURUSD")), "1h", "weekdays", source="eurusd")
    brain.record_quality_report(
        report.source,
        report.log_rows(),
        symbol="EURUSD",
        timeframe=report.timeframe,
        calendar=report.calendar,
    )
    stored = brain.list_quality_reports(latest=True)
    assert [(r.kind, r.count, r.severity) for r in stored] == [
        ("summary", 5000, "warning"),
        ("gaps", 2, "warning"),
    ]
    assert stored[1].details["longest"]["after"] == "2017-12-22T21:00:00+00:00"


@pytest.mark.parametrize(
    ("bad_rows", "message"),
    [
        ([], "no rows"),
        (
            [{"kind": "gaps", "count": 1, "severity": "fatal"}],
            "severity 'fatal'; use one of ok, info, warning, error",
        ),
        ([{"kind": "gaps", "count": -1, "severity": "error"}], "needs a count >= 0"),
        ([{"kind": "", "count": 1, "severity": "error"}], "needs a kind"),
        ([{"kind": "gaps", "count": 1, "severity": "error", "colour": "red"}], "unknown keys ['colour']"),
    ],
)
def test_malformed_reports_are_refused_and_write_nothing(brain, bad_rows, message):
    with pytest.raises(BrainError, match=message.replace("[", r"\[").replace("]", r"\]")):
        brain.record_quality_report("a.csv", [*rows()[:1], *bad_rows] if bad_rows else [])
    assert brain.list_quality_reports() == []


def test_a_version_2_brain_upgrades_to_3_with_its_data(brain_url, raw_engine):
    with open_brain(brain_url, migrate=False) as old:
        assert old.migrate(target=2) == [1, 2]
    with raw_engine.begin() as conn:
        assert not inspect(conn).has_table("data_quality_logs")
        conn.execute(
            insert(schema.slots).values(
                id=1,
                key="GOOG:1d:fwd_ret_1",
                symbol="GOOG",
                timeframe="1d",
                target="fwd_ret_1",
                horizon=1,
                created_at=T0,
            )
        )
        conn.execute(
            insert(schema.bars).values(
                symbol="GOOG", timeframe="1d", ts=T0, open=1.0, high=2.0, low=0.5, close=1.5, volume=10.0
            )
        )
        conn.execute(insert(schema.audit_log).values(ts=T0, actor="ops", action="import", outcome="ok"))
    with open_brain(brain_url, migrate=False) as brain:
        assert brain.schema_version() == 2
        assert brain.migrate() == list(range(3, SCHEMA_VERSION + 1))
    with open_brain(brain_url) as brain:
        assert [s.key for s in brain.list_slots()] == ["GOOG:1d:fwd_ret_1"]
        assert brain.load_bars("GOOG", "1d")["close"].to_list() == [1.5]
        assert [a.action for a in brain.list_audit()] == ["import"]
        brain.record_quality_report("a.csv", rows(), ts=T0)
        assert len(brain.list_quality_reports()) == 2
    with raw_engine.connect() as conn:
        versions = conn.execute(select(schema.schema_version.c.version)).scalars().all()
        assert sorted(versions) == list(range(1, SCHEMA_VERSION + 1))
        assert {"funding_rates", "open_interest", "liquidations", "sentiment_scores"} <= set(
            inspect(conn).get_table_names()
        )

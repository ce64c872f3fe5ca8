"""Slots, versions, artifacts, metrics and the status overview, on both backends."""

import hashlib
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from brain import BrainError, open_brain, schema
from brain.records import SlotStatus

SLOT = "GOOG:1d:fwd_ret_1"
START = datetime(2020, 1, 1, tzinfo=UTC)
END = datetime(2023, 12, 29, tzinfo=UTC)


def _add(brain, artifact=b"model-bytes", slot=SLOT, metrics=None, **overrides):
    arguments = dict(
        model_kind="ridge",
        manifest={"features": ["rsi_14", "sma_20"], "seed": 42, "folds": 5},
        artifact=artifact,
        artifact_format="skops",
        metrics=[{"name": "sharpe", "value": 1.1}, {"name": "hit_rate", "value": 0.54}]
        if metrics is None
        else metrics,
        data_start=START,
        data_end=END,
    )
    arguments.update(overrides)
    return brain.add_version(slot, **arguments)


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_ensure_slot_is_idempotent(brain):
    first = brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    again = brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    assert first == again
    assert first.key == SLOT
    assert first.created_at.tzinfo is UTC
    brain.ensure_slot("AAPL", "1h", "fwd_ret_4", 4)
    assert [s.key for s in brain.list_slots()] == ["AAPL:1h:fwd_ret_4", SLOT]
    assert brain.get_slot(SLOT) == first
    assert brain.get_slot("MSFT:1d:fwd_ret_1") is None


def test_ensure_slot_refuses_a_different_horizon_and_bad_parts(brain):
    brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    with pytest.raises(BrainError, match="exists with horizon 1, not 5"):
        brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 5)
    with pytest.raises(BrainError, match="no ':'"):
        brain.ensure_slot("BTC:USD", "1d", "fwd_ret_1", 1)


def test_versions_are_numbered_within_their_slot(brain):
    brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    brain.ensure_slot("AAPL", "1d", "fwd_ret_1", 1)
    numbers = [_add(brain, artifact=bytes([i])).number for i in range(3)]
    assert numbers == [1, 2, 3]
    assert _add(brain, slot="AAPL:1d:fwd_ret_1").number == 1

    versions = brain.list_versions(SLOT)
    assert [v.number for v in versions] == [1, 2, 3]
    latest = brain.latest_version(SLOT)
    assert latest == versions[-1] == brain.get_version(SLOT, 3)
    assert latest.status == "trained"
    assert latest.data_start == START and latest.data_end == END
    assert latest.manifest["artifact_sha256"] == latest.artifact_sha256
    assert latest.manifest["features"] == ["rsi_14", "sma_20"]
    assert brain.latest_version("MSFT:1d:fwd_ret_1") is None
    with pytest.raises(BrainError, match="slot 'GOOG:1d:fwd_ret_1' has no version 9"):
        brain.get_version(SLOT, 9)


def test_add_version_records_an_audit_row(brain):
    brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    version = _add(brain, actor="alice")
    (entry,) = brain.list_audit()
    assert (entry.action, entry.actor, entry.target, entry.outcome) == (
        "version.add",
        "alice",
        f"{SLOT} v1",
        "ok",
    )
    assert entry.details["artifact_sha256"] == version.artifact_sha256


def test_add_version_for_an_unknown_slot_leaves_nothing(brain, raw_engine):
    with pytest.raises(BrainError, match="unknown slot 'NOPE:1d:x'"):
        _add(brain, slot="NOPE:1d:x")
    for table in (schema.artifacts, schema.model_versions, schema.model_metrics):
        assert _count(raw_engine, table) == 0


def test_add_version_is_all_or_nothing(brain, raw_engine):
    brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    # The second metric has no name: the database's NOT NULL refuses it after the artifact,
    # the version and the first metric were already written in the same transaction.
    broken = [{"name": "sharpe", "value": 1.0}, {"name": None, "value": 2.0}]
    with pytest.raises(BrainError, match="brain operation failed"):
        _add(brain, metrics=broken)
    for table in (schema.artifacts, schema.model_versions, schema.model_metrics, schema.audit_log):
        assert _count(raw_engine, table) == 0
    assert _add(brain).number == 1  # the failed attempt did not use up a number


def test_unknown_metric_keys_are_refused(brain):
    brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    with pytest.raises(BrainError, match="unknown keys \\['vaule'\\]"):
        _add(brain, metrics=[{"name": "sharpe", "vaule": 1.0}])


def test_artifacts_are_content_addressed_and_verified(brain, raw_engine):
    brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    payload = b"\x00lightgbm model text\xff" * 100
    first, second = _add(brain, artifact=payload), _add(brain, artifact=payload)
    assert first.artifact_sha256 == second.artifact_sha256 == hashlib.sha256(payload).hexdigest()
    assert _count(raw_engine, schema.artifacts) == 1
    assert brain.load_artifact(first.artifact_sha256) == payload

    with raw_engine.begin() as conn:
        conn.execute(update(schema.artifacts).values(data=payload + b"!"))
    with pytest.raises(BrainError) as caught:
        brain.load_artifact(first.artifact_sha256)
    assert str(caught.value) == (
        f"artifact {first.artifact_sha256[:12]}… failed its sha256 check (tampered or corrupt)"
    )
    with pytest.raises(BrainError, match="is not in the brain"):
        brain.load_artifact("0" * 64)


def test_metrics_are_a_long_time_series(brain):
    brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    version = _add(
        brain,
        metrics=[
            {"name": "sharpe", "value": 1.2},
            {"name": "sharpe", "value": 0.9, "fold": 0},
            {"name": "ic", "value": float("nan")},
        ],
    )
    measured = version.created_at + timedelta(days=1)  # live numbers arrive later
    assert (
        brain.record_metrics(version.id, [{"name": "sharpe", "value": 0.7, "ts": measured, "scope": "live"}])
        == 1
    )
    rows = brain.version_metrics(version.id)
    assert [(m.name, m.fold, m.scope) for m in rows] == [
        ("sharpe", None, "oos"),
        ("sharpe", 0, "oos"),
        ("ic", None, "oos"),
        ("sharpe", None, "live"),
    ]
    assert rows[2].value is None  # NaN is stored as NULL
    (live,) = brain.version_metrics(version.id, scope="live")
    assert (live.value, live.ts) == (0.7, measured)
    with pytest.raises(BrainError, match="no model version with id 999"):
        brain.record_metrics(999, [{"name": "x", "value": 1.0}])


def test_status_summarises_every_slot(brain):
    brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    brain.ensure_slot("AAPL", "1d", "fwd_ret_5", 5)
    _add(brain, artifact=b"v1", metrics=[{"name": "sharpe", "value": 0.5}])
    latest = _add(
        brain,
        artifact=b"v2",
        model_kind="lightgbm",
        metrics=[
            {"name": "sharpe", "value": 1.5},
            {"name": "sharpe", "value": 9.0, "fold": 2},  # per fold: not the overall number
            {"name": "sharpe", "value": 8.0, "scope": "live"},  # live: not the oos number
            {"name": "max_drawdown", "value": float("nan")},
        ],
    )
    assert brain.status() == [
        SlotStatus(
            slot="AAPL:1d:fwd_ret_5",
            symbol="AAPL",
            timeframe="1d",
            target="fwd_ret_5",
            horizon=5,
            versions=0,
            latest_version=None,
            model_kind=None,
            trained_at=None,
            metrics={},
            champion=None,
            champion_kind=None,
            champion_metrics={},
        ),
        SlotStatus(
            slot=SLOT,
            symbol="GOOG",
            timeframe="1d",
            target="fwd_ret_1",
            horizon=1,
            versions=2,
            latest_version=2,
            model_kind="lightgbm",
            trained_at=latest.created_at,
            metrics={"sharpe": 1.5, "max_drawdown": None},
            champion=None,
            champion_kind=None,
            champion_metrics={},
        ),
    ]


def test_status_takes_few_queries_for_many_slots(brain, raw_engine):
    with raw_engine.begin() as conn:
        now = datetime.now(UTC)
        conn.execute(
            schema.slots.insert(),
            [
                dict(
                    key=f"S{i:03d}:1d:fwd_ret_1",
                    symbol=f"S{i:03d}",
                    timeframe="1d",
                    target="fwd_ret_1",
                    horizon=1,
                    created_at=now,
                )
                for i in range(500)
            ],
        )
    statements: list[str] = []
    stop_counting = brain.on_statement(statements.append)
    try:
        summary = brain.status()
    finally:
        stop_counting()
    assert len(summary) == 500
    assert len(statements) <= 5


def test_two_writers_never_share_a_version_number(brain_url, brain):
    brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    errors = []

    def write(worker: int) -> None:
        try:
            with open_brain(brain_url, migrate=False) as own:
                for i in range(5):
                    _add(own, artifact=f"{worker}-{i}".encode())
        except Exception as exc:  # reported below; a thread can't fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [v.number for v in brain.list_versions(SLOT)] == list(range(1, 16))


def test_timestamps_come_back_as_aware_utc(brain):
    brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    paris = datetime(2024, 3, 1, 11, 0, tzinfo=ZoneInfo("Europe/Paris"))
    version = _add(brain, data_start=paris, data_end=paris + timedelta(days=1))
    stored = brain.get_version(SLOT, version.number)
    assert stored.data_start == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert stored.data_start.tzinfo is UTC

"""Drift check results are stored per slot, feature, method and time, and read back filtered."""

from datetime import UTC, datetime, timedelta

import pytest

from brain import BrainError

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _rows():
    return [
        {
            "feature": "rsi_14",
            "method": "psi",
            "statistic": 0.21,
            "threshold": 0.1,
            "drifted": True,
            "reference_start": T0 - timedelta(days=60),
            "reference_end": T0 - timedelta(days=30),
            "current_start": T0 - timedelta(days=7),
            "current_end": T0,
            "details": {"bins": 21, "bad": float("nan")},
        },
        {
            "feature": "atr_14",
            "method": "ks",
            "statistic": 0.02,
            "p_value": 0.4,
            "threshold": 0.05,
            "drifted": False,
        },
    ]


def test_results_round_trip_with_slot_and_time(brain):
    assert brain.record_drift_results(_rows(), slot_key="GOOG:1d:fwd_ret_1", ts=T0) == 2
    records = brain.list_drift_results(slot_key="GOOG:1d:fwd_ret_1")
    assert [r.feature for r in records] == ["atr_14", "rsi_14"]  # same ts: newest id first
    atr, rsi = records
    assert atr.p_value == 0.4 and atr.drifted is False and atr.method == "ks" and atr.ts == T0
    assert rsi.statistic == 0.21 and rsi.p_value is None and rsi.drifted is True and rsi.threshold == 0.1
    assert rsi.reference_start == T0 - timedelta(days=60) and rsi.current_end == T0
    assert rsi.details == {"bins": 21, "bad": None}  # JSON has no NaN
    assert rsi.slot_key == "GOOG:1d:fwd_ret_1"


def test_filters_newest_first_and_limit(brain):
    for day in range(3):
        brain.record_drift_results(_rows(), slot_key="A", ts=T0 + timedelta(days=day))
    brain.record_drift_results(_rows(), slot_key="B", ts=T0)
    assert len(brain.list_drift_results()) == 8
    by_feature = brain.list_drift_results(slot_key="A", feature="rsi_14")
    assert [r.ts for r in by_feature] == [T0 + timedelta(days=d) for d in (2, 1, 0)]
    assert [r.feature for r in brain.list_drift_results(method="ks", slot_key="B")] == ["atr_14"]
    assert len(brain.list_drift_results(slot_key="A", since=T0 + timedelta(days=1))) == 4
    assert len(brain.list_drift_results(limit=3)) == 3


def test_bad_rows_are_refused_and_nothing_is_written(brain):
    with pytest.raises(BrainError, match="missing 'threshold'"):
        brain.record_drift_results([_rows()[0], {"feature": "x", "method": "psi", "drifted": False}])
    with pytest.raises(BrainError, match="unknown keys"):
        brain.record_drift_results([{**_rows()[1], "colour": "red"}])
    assert brain.list_drift_results() == []
    assert brain.record_drift_results([]) == 0

"""Live predictions in the brain: idempotent recording, maturing from stored bars, summaries."""

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from brain import BrainError

SLOT = "GOOG:1d:fwd_ret_2"
T0 = datetime(2026, 1, 5, tzinfo=UTC)
CLOSES = [100.0, 102.0, 99.0, 103.0, 104.0]


def _bars(count=None):
    count = len(CLOSES) if count is None else count
    days = [T0 + timedelta(days=i) for i in range(count)]
    closes = CLOSES[:count]
    return pl.DataFrame(
        {"ts": days, "open": closes, "high": closes, "low": closes, "close": closes, "volume": [1.0] * count}
    )


def _slot_with_version(brain):
    brain.ensure_slot("GOOG", "1d", "fwd_ret_2", 2)
    return brain.add_version(
        SLOT,
        model_kind="linear",
        manifest={"features": ["rsi_14"]},
        artifact=b"model",
        artifact_format="skops",
        metrics=[],
        data_start=None,
        data_end=None,
    )


def _row(version, day, value):
    return {
        "slot_key": SLOT,
        "version_id": version.id,
        "ts": T0 + timedelta(days=day),
        "batch": value,
        "blended": value,
        "predicted_at": T0 + timedelta(days=day, hours=1),
    }


def test_recording_twice_stores_each_bar_once(brain):
    version = _slot_with_version(brain)
    rows = [_row(version, day, 5.0) for day in range(3)]
    assert brain.record_predictions(rows) == 3
    assert brain.record_predictions([*rows, _row(version, 3, 7.0)]) == 1
    stored = brain.list_predictions(SLOT)
    assert [(r.ts, r.blended, r.version) for r in stored] == [
        (T0 + timedelta(days=d), 5.0 if d < 3 else 7.0, version.number) for d in range(4)
    ]
    assert brain.last_prediction_ts(SLOT, version.id) == T0 + timedelta(days=3)
    assert [r.ts for r in brain.list_predictions(SLOT, limit=2)] == [
        T0 + timedelta(days=2),
        T0 + timedelta(days=3),
    ]


def test_bad_rows_are_refused_with_the_key_named(brain):
    version = _slot_with_version(brain)
    with pytest.raises(BrainError, match=r"unknown keys \['colour'\]"):
        brain.record_predictions([{**_row(version, 0, 1.0), "colour": "red"}])
    with pytest.raises(BrainError, match=r"lacks \['blended'\]"):
        brain.record_predictions([{k: v for k, v in _row(version, 0, 1.0).items() if k != "blended"}])
    assert brain.list_predictions(SLOT) == []


def test_outcomes_mature_when_the_horizon_has_passed_in_the_stored_bars(brain):
    version = _slot_with_version(brain)
    brain.store_bars("GOOG", "1d", _bars(3))
    brain.record_predictions([_row(version, day, 1.0) for day in range(3)])
    assert brain.mature_predictions(SLOT) == 1  # only day 0 has its bar two days on
    brain.store_bars("GOOG", "1d", _bars())
    assert brain.mature_predictions(SLOT) == 2
    assert brain.mature_predictions(SLOT) == 0
    realised = [r.realised for r in brain.list_predictions(SLOT, matured=True)]
    # close[t+2] / close[t] - 1 in bps, by hand: 99/100, 103/102, 104/99
    assert realised == pytest.approx([-100.0, (103 / 102 - 1) * 1e4, (104 / 99 - 1) * 1e4], rel=1e-12)
    assert brain.list_predictions(SLOT, matured=False) == []


def test_live_summaries_show_the_champions_newest_live_metrics(brain):
    version = _slot_with_version(brain)
    assert brain.live_summaries() == {}
    brain.promote_version(SLOT, version.number, actor="scheduler", reason="first")
    brain.record_metrics(
        version.id,
        [
            {"name": "live_sharpe", "value": 0.5, "scope": "live", "ts": T0},
            {"name": "live_mae", "value": 9.0, "scope": "live", "ts": T0},
        ],
    )
    brain.record_metrics(
        version.id,
        [
            {"name": "live_sharpe", "value": 1.5, "scope": "live", "ts": T0 + timedelta(hours=1)},
            {"name": "sharpe", "value": 3.0},
        ],
    )  # out of sample: not live
    summary = brain.live_summaries()[SLOT]
    assert (summary["version"], summary["sharpe"], summary["mae"]) == (1, 1.5, 9.0)
    assert summary["ts"] == T0 + timedelta(hours=1)


def test_live_history_is_the_champions_last_values_oldest_first(brain):
    version = _slot_with_version(brain)
    assert brain.live_history() == {}
    brain.promote_version(SLOT, version.number, actor="scheduler", reason="first")
    brain.record_metrics(version.id, [
        {"name": "live_sharpe", "value": float(hour), "scope": "live", "ts": T0 + timedelta(hours=hour)}
        for hour in range(5)
    ] + [{"name": "live_mae", "value": 1.0, "scope": "live", "ts": T0}, {"name": "sharpe", "value": 9.0}])
    assert brain.live_history(points=3) == {SLOT: [2.0, 3.0, 4.0]}
    assert brain.live_history("mae") == {SLOT: [1.0]}


def test_last_forecasts_name_each_slots_newest_bar_and_when_it_was_made(brain):
    version = _slot_with_version(brain)
    brain.ensure_slot("EURUSD", "1h", "fwd_ret_1", 1)  # a slot that never forecast is left out
    assert brain.last_forecasts() == {}
    marks = brain.change_marks()
    brain.record_predictions([_row(version, day, 1.0) for day in range(3)])
    newest = (T0 + timedelta(days=2), T0 + timedelta(days=2, hours=1))
    assert brain.last_forecasts() == {SLOT: newest}
    assert brain.last_forecasts([SLOT]) == {SLOT: newest}
    assert brain.last_forecasts(["EURUSD:1h:fwd_ret_1"]) == {}
    # A new forecast moves the marks and names its slot, so a console re-reads it.
    assert brain.change_marks() != marks and brain.overview_changes(marks) == {SLOT}
    # Each slot its own newest bar, though another slot forecast later bars.
    other = brain.add_version("EURUSD:1h:fwd_ret_1", model_kind="linear", manifest={"features": ["rsi_14"]},
                              artifact=b"other", artifact_format="skops", metrics=[], data_start=None,
                              data_end=None)
    later = T0 + timedelta(days=9)
    brain.record_predictions([{"slot_key": "EURUSD:1h:fwd_ret_1", "version_id": other.id, "ts": later,
                               "predicted_at": later + timedelta(minutes=5), "batch": 1.0, "blended": 1.0}])
    assert brain.last_forecasts() == {
        SLOT: newest, "EURUSD:1h:fwd_ret_1": (later, later + timedelta(minutes=5))}

"""The leader's console recorder: frames follow promotions, queue items and drift checks, an
unchanged brain costs no rows, and retention drops what is past it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from brain import open_brain
from scheduler.daemon.recorder import record_console_frames

GOOG = "GOOG:1d:fwd_ret_1"
EURUSD = "EURUSD:1h:fwd_ret_1"
T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def brain(any_brain_url):
    with open_brain(any_brain_url) as brain:
        for symbol, timeframe, key in (("GOOG", "1d", GOOG), ("EURUSD", "1h", EURUSD)):
            brain.ensure_slot(symbol, timeframe, "fwd_ret_1", 1)
            for number in (1, 2):
                brain.add_version(
                    key, model_kind="lightgbm" if number == 2 else "linear", manifest={},
                    artifact=f"{key} m{number}".encode(), artifact_format="skops",
                    metrics=[{"name": "sharpe", "value": 0.123456 * number},
                             {"name": "hit_rate", "value": 0.5 + 0.01 * number},
                             {"name": "sharpe", "value": 9.0, "fold": 0}],  # per fold: never recorded
                    data_start=None, data_end=None,
                )
        yield brain


def _drift(brain, ts, drifting: list[str], *, dataset_drift: bool = False) -> None:
    rows = []
    for feature in ("rsi_14", "atr_14", "obv"):
        drifted = feature in drifting
        rows.append({"feature": feature, "method": "psi", "statistic": 0.3 if drifted else 0.01,
                     "threshold": 0.1, "drifted": drifted, "details": {"dataset_drift": dataset_drift}})
        rows.append({"feature": feature, "method": "ks", "statistic": 0.05, "p_value": 0.5,
                     "threshold": 0.05, "drifted": False, "details": {"dataset_drift": False}})
    brain.record_drift_results(rows, slot_key=GOOG, ts=ts)


def test_frames_follow_promotions_queue_items_and_drift_checks(brain):
    assert record_console_frames(brain, now=T0) == {"metrics": True, "queues": True, "drift": True}
    first = brain.frame_at("metrics", T0).payload["slots"]
    assert first[GOOG] == {"champion": None, "latest": 2, "model": "lightgbm",
                           "oos": {"sharpe": 0.2469, "hit_rate": 0.52}}  # rounded, no folds
    assert brain.frame_at("queues", T0).payload == {"items": []}
    assert brain.frame_at("drift", T0).payload == {"slots": {}}

    # Nothing changed a minute later: nothing stored.
    assert not any(record_console_frames(brain, now=T0 + MINUTE).values())

    brain.promote_version(GOOG, 1, actor="alice", reason="first", at=T0 + MINUTE)
    brain.record_metrics(brain.get_version(GOOG, 1).id, [
        {"name": f"live_{name}", "value": value, "scope": "live"}
        for name, value in (("sharpe", 1.23456), ("win_rate", 0.55), ("mae", 12.3456), ("n", 50.0))])
    brain.enqueue("retrain", GOOG, rule="drift", reason="3 features drifted " + "x" * 200, now=T0)
    brain.enqueue("prune", EURUSD, rule="stale", reason="never champion", version=1, now=T0)
    done = brain.enqueue("retrain", EURUSD, rule="schedule", reason="weekly", now=T0)
    brain.decide_queue_item(done.id, approve=False, actor="alice", reason="not now")  # closed: not shown
    _drift(brain, T0 + MINUTE, ["rsi_14", "obv"], dataset_drift=True)

    assert all(record_console_frames(brain, now=T0 + 2 * MINUTE).values())
    goog = brain.frame_at("metrics", T0 + 2 * MINUTE).payload["slots"][GOOG]
    assert (goog["champion"], goog["latest"], goog["model"]) == (1, 2, "linear")
    assert goog["oos"] == {"sharpe": 0.1235, "hit_rate": 0.51}  # the champion's, not the latest's
    assert goog["live"] == {"sharpe": 1.235, "win_rate": 0.55, "mae": 12.35, "n": 50.0}
    items = brain.frame_at("queues", T0 + 2 * MINUTE).payload["items"]
    assert [(i["queue"], i["slot"], i["version"], i["state"], i["rule"]) for i in items] == [
        ("retrain", GOOG, None, "pending", "drift"), ("prune", EURUSD, 1, "pending", "stale")]
    assert len(items[0]["reason"]) == 120
    drift = brain.frame_at("drift", T0 + 2 * MINUTE).payload["slots"]
    assert drift == {GOOG: {"checked": (T0 + MINUTE).isoformat(), "features": 3, "methods": {
        "ks": {"drifted": [], "dataset_drift": False},
        "psi": {"drifted": ["obv", "rsi_14"], "dataset_drift": True}},
        # The flag the console's Models view shows, read as it reads it.
        "flag": {"ts": (T0 + MINUTE).isoformat(), "features": 3, "drifted": 2, "method": "psi"}}}

    # A newer check replaces the older one in the next frame; the older frame still answers for its time.
    _drift(brain, T0 + 3 * MINUTE, [])
    brain.promote_version(GOOG, 2, actor="alice", reason="better", force=True, at=T0 + 3 * MINUTE)
    record_console_frames(brain, now=T0 + 4 * MINUTE)
    assert brain.frame_at("drift", T0 + 4 * MINUTE).payload["slots"][GOOG]["methods"]["psi"]["drifted"] == []
    assert brain.frame_at("metrics", T0 + 4 * MINUTE).payload["slots"][GOOG]["champion"] == 2
    assert "live" not in brain.frame_at("metrics", T0 + 4 * MINUTE).payload["slots"][GOOG]  # v2 has none yet
    assert brain.frame_at("metrics", T0 + 3 * MINUTE).payload["slots"][GOOG]["champion"] == 1
    assert brain.history_kinds() == {"metrics": 3, "queues": 2, "drift": 3}


def test_retention_drops_old_frames_but_keeps_the_state_at_its_cut_off(brain):
    record_console_frames(brain, now=T0)
    brain.promote_version(GOOG, 1, actor="alice", reason="first", at=T0)
    record_console_frames(brain, now=T0 + timedelta(hours=1))
    brain.promote_version(GOOG, 2, actor="alice", reason="better", force=True, at=T0)
    record_console_frames(brain, now=T0 + timedelta(hours=50), retention=timedelta(hours=48))
    metrics = brain.frames("metrics")
    # The hour-0 frame is gone; the hour-1 frame still describes hour 2, the cut-off.
    assert [frame.ts for frame in metrics] == [T0 + timedelta(hours=1), T0 + timedelta(hours=50)]
    assert [frame.payload["slots"][GOOG]["champion"] for frame in metrics] == [1, 2]
    assert [frame.ts for frame in brain.frames("queues")] == [T0]  # never changed: still the state

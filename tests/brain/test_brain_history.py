"""Console history frames on both backends: unchanged state costs no rows, the state at any time
is answerable, and retention never loses the state at its cut-off."""

from datetime import UTC, datetime, timedelta

import pytest

from brain import BrainError

T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _metrics(champion: int, sharpe: float) -> dict:
    return {"slots": {"GOOG:1d:fwd_ret_1": {"champion": champion, "oos": {"sharpe": sharpe}}}}


def _champion(frame) -> int:
    return frame.payload["slots"]["GOOG:1d:fwd_ret_1"]["champion"]


def test_a_frame_equal_to_the_previous_one_is_not_stored(brain):
    first = brain.record_frame("metrics", _metrics(1, 0.5), ts=T0)
    assert first is not None and first.payload == _metrics(1, 0.5) and first.ts == T0
    for minute in range(1, 4):  # the leader finds nothing new for three minutes
        assert brain.record_frame("metrics", _metrics(1, 0.5), ts=T0 + minute * MINUTE) is None
    changed = brain.record_frame("metrics", _metrics(2, 0.7), ts=T0 + 4 * MINUTE)
    assert changed is not None
    # The same document under another kind is that kind's first frame.
    assert brain.record_frame("drift", _metrics(2, 0.7), ts=T0 + 4 * MINUTE) is not None
    # Back to an earlier state is a change too: only the previous frame counts.
    assert brain.record_frame("metrics", _metrics(1, 0.5), ts=T0 + 5 * MINUTE) is not None
    assert [_champion(frame) for frame in brain.frames("metrics")] == [1, 2, 1]
    assert brain.history_kinds() == {"metrics": 3, "drift": 1}


def test_payloads_compare_as_stored_json(brain):
    brain.record_frame("queues", {"items": [{"id": 1, "reason": "drift"}], "ratio": float("nan")}, ts=T0)
    # A tuple reads back as a list and NaN as null: the same document, so nothing is stored.
    assert brain.record_frame("queues", {"items": ({"id": 1, "reason": "drift"},), "ratio": None},
                              ts=T0 + MINUTE) is None
    stored = {"items": [{"id": 1, "reason": "drift"}], "ratio": None}
    assert brain.frame_at("queues", T0 + MINUTE).payload == stored


def test_min_interval_holds_back_changes_that_come_too_soon(brain):
    brain.record_frame("metrics", _metrics(1, 0.5), ts=T0)
    assert brain.record_frame("metrics", _metrics(1, 0.6), ts=T0 + MINUTE, min_interval=5 * MINUTE) is None
    assert brain.record_frame("metrics", _metrics(1, 0.6), ts=T0 + 5 * MINUTE, min_interval=5 * MINUTE)
    assert len(brain.frames("metrics")) == 2


def test_frame_at_answers_what_the_console_showed_at_any_time(brain):
    for hour, champion in enumerate([1, 2, 3]):
        brain.record_frame("metrics", _metrics(champion, float(champion)), ts=T0 + timedelta(hours=hour))
    assert brain.frame_at("metrics", T0 - MINUTE) is None
    assert brain.frame_at("metrics", T0).payload == _metrics(1, 1.0)
    assert brain.frame_at("metrics", T0 + timedelta(minutes=119)).payload == _metrics(2, 2.0)
    assert brain.frame_at("metrics", T0 + timedelta(days=3)).payload == _metrics(3, 3.0)
    assert brain.frame_at("drift", T0 + timedelta(days=3)) is None
    window = brain.frames("metrics", since=T0 + MINUTE, until=T0 + timedelta(hours=2))
    assert [frame.ts for frame in window] == [T0 + timedelta(hours=h) for h in (1, 2)]  # oldest first
    newest = brain.frames("metrics", limit=2)
    assert [_champion(frame) for frame in newest] == [2, 3]
    with pytest.raises(BrainError, match="limit must be >= 1"):
        brain.frames("metrics", limit=0)


def test_retention_keeps_the_frame_that_still_describes_the_cut_off(brain):
    hours = [0, 10, 20, 50]
    for champion, hour in enumerate(hours, start=1):
        brain.record_frame("metrics", _metrics(champion, 0.5), ts=T0 + timedelta(hours=hour))
    brain.record_frame("queues", {"items": []}, ts=T0)  # unchanged ever since: still the state now
    cut_off = T0 + timedelta(hours=50) - timedelta(hours=36)  # 48h retention seen from hour 50
    deleted = brain.prune_history(cut_off)
    assert deleted == 1  # hour 0; hour 10 is the state at the cut-off
    assert [frame.ts for frame in brain.frames("metrics")] == [T0 + timedelta(hours=h) for h in (10, 20, 50)]
    assert brain.frame_at("metrics", cut_off).payload == _metrics(2, 0.5)
    assert brain.frame_at("queues", T0 + timedelta(hours=50)).payload == {"items": []}
    assert brain.prune_history(cut_off) == 0
    assert brain.prune_history(T0 + timedelta(days=30)) == 2  # only the newest frame of each kind is left
    assert brain.history_kinds() == {"metrics": 1, "queues": 1}


def test_bad_frames_are_refused_with_one_line(brain):
    with pytest.raises(BrainError, match="needs a kind"):
        brain.record_frame(" ", {"a": 1})
    with pytest.raises(BrainError, match="JSON object, not list"):
        brain.record_frame("metrics", [1, 2])
    assert brain.history_kinds() == {}

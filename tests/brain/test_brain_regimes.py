"""Regime labels in the brain (brain/regimes.py), on both backends: a round trip with the bars that
have no label, upserts that replace, range reads, and labels kept apart per series and config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from brain.errors import BrainError

START = datetime(2024, 3, 1, tzinfo=UTC)


def _labels(n: int, *, start: int = 0, trend: str = "ranging") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts": [START + timedelta(hours=start + i) for i in range(n)],
            "vol": [None if start + i < 2 else ("low", "normal", "high")[(start + i) % 3] for i in range(n)],
            "trend": [None if start + i < 2 else trend for i in range(n)],
        },
        schema={"ts": pl.Datetime("us", "UTC"), "vol": pl.Utf8, "trend": pl.Utf8},
    )


def test_labels_round_trip_with_their_gaps(brain):
    labels = _labels(10)
    assert brain.store_regime_labels("BTC", "1h", "k1", labels) == 20  # 10 bars x 2 axes
    stored = brain.load_regime_labels("BTC", "1h", "k1")
    assert stored.columns == ["ts", "trend", "vol"]  # axes in name order
    assert_frame_equal(stored, labels.select("ts", "trend", "vol"))
    assert brain.regime_labels_extent("BTC", "1h", "k1") == {
        "trend": (10, START + timedelta(hours=9)), "vol": (10, START + timedelta(hours=9))}  # fmt: skip
    # A bar written again replaces its label; new bars append.
    brain.store_regime_labels("BTC", "1h", "k1", _labels(5, start=8, trend="trending_up"))
    stored = brain.load_regime_labels("BTC", "1h", "k1")
    assert stored.height == 13
    assert stored["trend"].to_list() == [None, None, *["ranging"] * 6, *["trending_up"] * 5]


def test_range_reads_and_separate_series_and_configs(brain):
    brain.store_regime_labels("BTC", "1h", "k1", _labels(10))
    brain.store_regime_labels("BTC", "1h", "k2", _labels(3, trend="trending_down"))
    brain.store_regime_labels("ETH", "1h", "k1", _labels(4, trend="trending_up"))
    brain.store_regime_labels("BTC", "4h", "k1", _labels(2))
    window = brain.load_regime_labels(
        "BTC", "1h", "k1", since=START + timedelta(hours=3), until=START + timedelta(hours=5)
    )
    assert_frame_equal(window, _labels(3, start=3), check_column_order=False)
    assert brain.load_regime_labels("BTC", "1h", "k2")["trend"].to_list() == [None, None, "trending_down"]
    assert brain.load_regime_labels("ETH", "1h", "k1").height == 4
    # The newest labelled bars of one series only (what the live tick's regime policy reads).
    assert_frame_equal(brain.load_regime_labels("BTC", "1h", "k1", last=3), _labels(3, start=7),
                       check_column_order=False)
    assert brain.load_regime_labels("BTC", "1h", "k2", last=30).height == 3
    empty = brain.load_regime_labels("BTC", "1h", "k3")
    assert empty.columns == ["ts"] and empty.is_empty()
    assert brain.regime_labels_extent("BTC", "1h", "k3") == {}
    # Naive stamps are UTC, and one axis may come alone.
    naive = pl.DataFrame(
        {"ts": [datetime(2024, 3, 1, h) for h in range(3)], "hmm": ["state_0", None, "state_1"]}
    )
    brain.store_regime_labels("SOL", "1h", "k1", naive)
    stored = brain.load_regime_labels("SOL", "1h", "k1")
    assert stored.columns == ["ts", "hmm"] and stored["ts"][0] == START
    assert stored["hmm"].to_list() == ["state_0", None, "state_1"]


BAD_FRAMES = [
    (pl.DataFrame({"vol": ["low"]}), "lack a ts column"),
    (pl.DataFrame({"ts": ["2024-01-01"], "vol": ["low"]}), "ts must be a Datetime"),
    (pl.DataFrame({"ts": [START, START], "vol": ["low", "high"]}), "repeat a ts"),
]


def test_bad_frames_are_refused_and_nothing_is_written(brain):
    for frame, message in BAD_FRAMES:
        with pytest.raises(BrainError, match=message):
            brain.store_regime_labels("BTC", "1h", "k1", frame)
    assert brain.regime_labels_extent("BTC", "1h", "k1") == {}

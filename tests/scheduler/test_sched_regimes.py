"""Regime labels of a slot (scheduler/services/regimes.py) on both backends: computed once and
stored, read back after, only new bars labelled when bars arrive; the current regime; events;
the leader's refresh after a live tick; bad input in one line."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.regimes import RegimeConfig, RegimeError, label_regimes
from scheduler.config import ConfigError, load_config
from scheduler.services.regimes import (
    current_regimes,
    refresh_regimes,
    slot_cascades,
    slot_events,
    slot_regimes,
)

SLOT = "GOOG:1d:fwd_ret_1"


@pytest.fixture(scope="module")
def goog() -> pl.DataFrame:
    return load_ohlcv(bundled_path("GOOG"), symbol="GOOG")


@pytest.fixture
def brain(any_brain_url, goog):
    with open_brain(any_brain_url) as opened:
        opened.store_bars("GOOG", "1d", goog.head(1500))
        opened.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
        yield opened


def _inserts(brain):
    seen: list[str] = []
    stop = brain.on_statement(
        lambda sql: seen.append(sql) if sql.lstrip().upper().startswith("INSERT") else None
    )
    return seen, stop


def test_labels_are_stored_once_then_read_and_new_bars_only_are_added(brain, goog):
    config = RegimeConfig()
    first = slot_regimes(brain, SLOT, config=config)
    assert_frame_equal(first, label_regimes(goog.head(1500), config))
    key = config.label_key()
    assert brain.regime_labels_extent("GOOG", "1d", key)["vol"][0] == 1500
    inserts, stop = _inserts(brain)
    again = slot_regimes(brain, SLOT, config=config)
    stop()
    assert inserts == []  # read back, nothing written
    assert_frame_equal(again, first)
    # New bars: labelled and stored, the older labels untouched (causal: they cannot change).
    brain.store_bars("GOOG", "1d", goog.slice(1500, 100))
    written: list[int] = []
    original = brain.store_regime_labels
    brain.store_regime_labels = lambda *args: written.append(args[-1].height) or original(*args)
    grown = slot_regimes(brain, SLOT, config=config)
    assert written == [100]
    assert_frame_equal(grown, label_regimes(goog.head(1600), config))
    assert_frame_equal(brain.load_regime_labels("GOOG", "1d", key).select("ts", "vol", "trend"), grown)
    # Another configuration keeps its own labels.
    other = RegimeConfig(vol_window=10)
    assert_frame_equal(slot_regimes(brain, SLOT, config=other), label_regimes(goog.head(1600), other))
    assert brain.regime_labels_extent("GOOG", "1d", key)["vol"][0] == 1600
    # The current regime: the newest bar's labels.
    newest = grown.row(-1, named=True)
    assert current_regimes(brain, SLOT, config=config) == {"vol": newest["vol"], "trend": newest["trend"]}
    # The leader's refresh after a live tick: each series once, its new bars labelled.
    brain.store_bars("GOOG", "1d", goog.slice(1600, 5))
    assert refresh_regimes(brain, [("GOOG", "1d"), ("GOOG", "1d")], config=config) == 1
    assert brain.regime_labels_extent("GOOG", "1d", key)["trend"] == (1605, goog["ts"][1604])


def test_events_a_cascade_rule_without_liquidation_data_and_an_unknown_slot(brain, goog):
    events = slot_events(brain, SLOT)
    clusters = [event for event in events if event.kind == "vol_cluster"]
    labels = slot_regimes(brain, SLOT)
    assert sum(event.bars for event in clusters) == (labels["vol"] == "high").sum()
    with pytest.raises(
        RegimeError, match=r"^no liquidation data for GOOG in the brain: .*import-alt liquidations"
    ):
        slot_cascades(brain, SLOT)
    # With liquidation data: a spike is a cascade.
    stamps = goog["ts"].head(60)
    volume = np.full(60, 100.0)
    volume[50] = 1000.0
    brain.store_alt_data("liquidations", pl.DataFrame(
        {"ts": stamps, "symbol": "GOOG", "long_usd": volume / 2, "short_usd": volume / 2}))  # fmt: skip
    cascades = slot_cascades(brain, SLOT, multiple=3, window=10)
    assert [(event.start, event.bars) for event in cascades] == [(stamps[50], 1)]
    assert any(event.kind == "liquidation_cascade" for event in slot_events(brain, SLOT, cascade_window=10))
    # An unknown slot: one line.
    with pytest.raises(RegimeError, match=r"^no slot 'NOPE:1d:x' in the brain \(slots: GOOG:1d:fwd_ret_1\)$"):
        slot_regimes(brain, "NOPE:1d:x")


def test_the_hmm_axis_is_stored_with_the_others(empty_brain_url, goog):
    config = RegimeConfig(hmm_states=2, hmm_train_bars=300, axis="hmm")
    with open_brain(empty_brain_url) as brain:
        brain.store_bars("GOOG", "1d", goog.head(450))
        brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
        labels = slot_regimes(brain, SLOT, config=config)
        assert labels.columns == ["ts", "vol", "trend", "hmm"]
        assert labels["hmm"].head(300).null_count() == 300 and labels["hmm"].slice(300).null_count() == 0
        assert current_regimes(brain, SLOT, config=config)["hmm"] in {"state_0", "state_1"}
        assert_frame_equal(
            brain.load_regime_labels("GOOG", "1d", config.label_key()).select(labels.columns), labels
        )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{vol_quantiles: [0.8, 0.2]}", "vol_quantiles [0.8, 0.2]: the first must be below the second"),
        ("{vol_quantiles: [0.2, 1.5]}", "vol_quantiles [0.2, 1.5]: each must lie strictly between 0 and 1"),
        ("{hmm_states: 3, hmm_train_bars: 100}", "hmm_train_bars 100: 3 hmm states need at least 230"),
    ],
)
def test_bad_regime_settings_are_one_config_line(tmp_path, section, message):
    path = tmp_path / "huracan.yaml"
    path.write_text(f"regimes: {section}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert f"huracan.yaml: regimes: {message}" in str(error.value) and "\n" not in str(error.value)


def test_the_config_holds_the_regime_settings(tmp_path):
    path = tmp_path / "huracan.yaml"
    path.write_text("regimes:\n  vol_window: 30\n  axis: vol\n", encoding="utf-8")
    config = load_config(path)
    assert config.regimes == RegimeConfig(vol_window=30, axis="vol")
    assert load_config(None).regimes == RegimeConfig()


def test_the_leaders_labeller_steps_over_new_bars_and_stores_what_labelling_whole_would(brain, goog):
    # The leader holds a labeller per series between ticks: after the first refresh (the series
    # labelled whole) each one reads the bars from the newest labelled one on, never the whole
    # series, and stores the very labels label_regimes gives the whole series.
    config, labellers = RegimeConfig(), {}
    key = config.label_key()
    assert refresh_regimes(brain, [("GOOG", "1d")], config=config, labellers=labellers) == 1
    reads: list[object] = []
    original = brain.load_bars
    brain.load_bars = lambda *args, **kwargs: reads.append(kwargs.get("since")) or original(*args, **kwargs)
    for start in range(1500, 1530, 3):  # ten ticks of three bars
        brain.store_bars("GOOG", "1d", goog.slice(start, 3))
        assert refresh_regimes(brain, [("GOOG", "1d")], config=config, labellers=labellers) == 1
    assert len(reads) == 10 and None not in reads  # every read from the newest labelled bar on
    stored = brain.load_regime_labels("GOOG", "1d", key).select("ts", "vol", "trend")
    assert_frame_equal(stored, label_regimes(goog.head(1530), config))
    # Labels written by another process meanwhile (a whole relabel): the labeller is not trusted
    # to continue them, and starts again from the whole series.
    brain.store_bars("GOOG", "1d", goog.slice(1530, 2))
    slot_regimes(brain, SLOT, config=config)
    brain.store_bars("GOOG", "1d", goog.slice(1532, 2))
    reads.clear()
    assert refresh_regimes(brain, [("GOOG", "1d")], config=config, labellers=labellers) == 1
    assert reads == [None]
    stored = brain.load_regime_labels("GOOG", "1d", key).select("ts", "vol", "trend")
    assert_frame_equal(stored, label_regimes(goog.head(1534), config))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("training:\n  regimes: {vol_window: 10}\n", "training.regimes"),
        ("slots:\n  GOOG:1d:fwd_ret_1: {regimes: {vol_window: 10}}\n", "slots.GOOG:1d:fwd_ret_1.regimes"),
    ],
)
def test_the_labelling_config_is_set_in_one_place_only(tmp_path, text, where):
    # The training carries the top-level `regimes:` to its worker; one set under `training:` or a
    # slot would be replaced by it, so it is refused rather than silently ignored.
    path = tmp_path / "huracan.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert f"{where}: set the labelling config in the top-level `regimes:` section" in str(error.value)
    assert "\n" not in str(error.value)

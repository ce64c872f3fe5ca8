"""The regime labeller that carries its state from bar to bar (engine.regimes.incremental): its
labels equal label_regimes' on the whole series at every bar, whichever way the bars arrive
(one at a time, in runs, with the newest bar rewritten), on real and synthetic series and
several configurations; bars that go back before the newest one are one line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.regimes import RegimeConfig, RegimeError, label_regimes
from engine.regimes.incremental import RegimeLabeller
from engine.regimes.labels import realised_vol

CONFIGS = [
    RegimeConfig(),
    RegimeConfig(vol_window=5, vol_quantiles=(0.2, 0.6), adx_period=7, adx_threshold=20, min_history=10),
]


def _synthetic(n: int = 1200, seed: int = 4) -> pl.DataFrame:
    """A random walk with a flat stretch (every Wilder sum decays, the volatility is 0 and ties)
    and a jump."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    close[400:480] = close[400]
    close[700:] *= 1.3
    spread = np.abs(rng.normal(0, 0.004, n)) * close
    spread[400:480] = 0.0
    start = datetime(2021, 1, 1, tzinfo=UTC)
    return pl.DataFrame({
        "ts": [start + timedelta(hours=i) for i in range(n)],
        "open": close, "high": close + spread, "low": close - spread, "close": close, "volume": np.ones(n),
    }).with_columns(pl.col("ts").dt.cast_time_unit("us"))


@pytest.fixture(scope="module", params=["GOOG", "EURUSD", "synthetic"])
def series(request) -> pl.DataFrame:
    if request.param == "synthetic":
        return _synthetic()
    return load_ohlcv(bundled_path(request.param)).head(2500)


def _label_in_runs(bars: pl.DataFrame, config: RegimeConfig, first: int, seed: int) -> pl.DataFrame:
    labeller, rng = RegimeLabeller(config), np.random.default_rng(seed)
    parts, start = [labeller.extend(bars.head(first))], first
    while start < bars.height:
        size = int(rng.choice([1, 1, 1, 2, 5]))
        parts.append(labeller.extend(bars.slice(start, size)))
        start += size
    assert labeller.seen == bars.height and labeller.newest == bars["ts"][-1]
    return pl.concat(parts)


@pytest.mark.parametrize("config", CONFIGS, ids=["defaults", "short windows"])
@pytest.mark.parametrize("first", [1, 40, 600])
def test_labels_bar_by_bar_equal_the_whole_series_labels(series, config, first):
    # first=1 and 40: the labeller starts before ADX's first value and labels whole until then.
    assert_frame_equal(_label_in_runs(series, config, first, seed=first), label_regimes(series, config))


def test_a_rewritten_newest_bar_replaces_the_one_labelled():
    bars, config = _synthetic(), RegimeConfig()
    labeller = RegimeLabeller(config)
    labeller.extend(bars.head(800))
    # The feed first sends a provisional version of bar 800, then bar 800 as it closed and more.
    provisional = bars.slice(800, 1).with_columns(pl.col("high") * 1.05, pl.col("close") * 1.04)
    labeller.extend(provisional)
    assert_frame_equal(labeller.extend(bars.slice(800, 60)), label_regimes(bars.head(860), config).tail(60))
    # And a newest bar rewritten twice in a row.
    labeller.extend(bars.slice(859, 1).with_columns(pl.col("close") * 0.9))
    assert_frame_equal(labeller.extend(bars.slice(859, 2)), label_regimes(bars.head(861), config).tail(2))


def test_bars_before_the_newest_one_are_refused_in_one_line():
    bars = _synthetic()
    labeller = RegimeLabeller(RegimeConfig())
    labeller.extend(bars.head(300))
    refused = r"^regime labeller: bars from .* go back before the newest"
    with pytest.raises(RegimeError, match=refused) as error:
        labeller.extend(bars.slice(200, 10))
    assert "\n" not in str(error.value)


def test_with_an_hmm_the_series_is_labelled_whole_with_the_same_answer():
    bars = _synthetic(900)
    config = RegimeConfig(hmm_states=2, hmm_train_bars=400)
    assert_frame_equal(_label_in_runs(bars, config, 500, seed=1), label_regimes(bars, config))


def test_a_bars_volatility_is_computed_from_its_own_window_alone(series):
    # What the labeller relies on: a bar's realised volatility from a short tail is the one
    # from the whole series, to the bit (a running sum, polars' rolling_std, differs in the
    # last place with the history before the bar, and can move the bar's rank).
    close = series["close"].to_numpy()
    whole = realised_vol(close, 20)
    for t in range(21, close.size, 7):
        assert realised_vol(close[t - 20 : t + 1], 20)[-1] == whole[t], t

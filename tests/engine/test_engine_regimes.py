"""Regime labels (engine.regimes): ADX equal to TA-Lib, the expanding quantile equal to numpy's,
every label causal (future bars changed, past labels unchanged), the HMM read with filtering
probabilities (not smoothed ones), events, bad input in one line, and the recipe entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
import talib
from polars.testing import assert_frame_equal, assert_series_equal

from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.features import compute_features, parse_recipe
from engine.features.tail import TailFeatures
from engine.pipeline import version_features
from engine.regimes import (
    TREND_CODES,
    TREND_LABELS,
    VOL_CODES,
    VOL_LABELS,
    RegimeConfig,
    RegimeError,
    label_regimes,
)
from engine.regimes.events import cascade_ratio, liquidation_cascades, volatility_clusters
from engine.regimes.hmm import fit_hmm, forward_probabilities, hmm_features, hmm_labels
from engine.regimes.labels import directional_movement, expanding_le_counts, vol_codes
from engine.spec import FeatureChoice, ModelSpec, VersionSpec

WARM_UP = 300  # the indicator tests' bar: TA-Lib's Wilder seeds have faded by then
MAX_RELATIVE_DIFFERENCE = 1e-8


@pytest.fixture(scope="module", params=["GOOG", "EURUSD"])
def market(request) -> pl.DataFrame:
    return load_ohlcv(bundled_path(request.param))


@pytest.fixture(scope="module")
def goog() -> pl.DataFrame:
    return load_ohlcv(bundled_path("GOOG"))


def _switching_bars(n: int = 700, seed: int = 3) -> pl.DataFrame:
    """Bars whose volatility switches between a calm and a wilder regime every 150 bars (close
    enough that the filter, which cannot see a switch coming, lags the smoother there)."""
    rng = np.random.default_rng(seed)
    scale = np.where((np.arange(n) // 150) % 2 == 0, 0.01, 0.02)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1, n) * scale))
    spread = np.abs(rng.normal(0, 1, n)) * scale * close
    start = datetime(2021, 1, 1, tzinfo=UTC)
    return pl.DataFrame(
        {
            "ts": [start + timedelta(hours=i) for i in range(n)],
            "open": close, "high": close + spread, "low": close - spread, "close": close,
            "volume": np.ones(n),
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )  # fmt: skip


def _changed_after(bars: pl.DataFrame, t: int, seed: int) -> pl.DataFrame:
    """The same bars up to row t; every later bar's prices scaled by a random walk."""
    rng = np.random.default_rng(seed)
    factor = np.ones(bars.height)
    factor[t + 1 :] = np.exp(np.cumsum(rng.normal(0, 0.05, bars.height - t - 1)))
    factor = pl.Series(factor)
    return bars.with_columns(pl.col(name) * factor for name in ("open", "high", "low", "close"))


def _relative(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    scale = np.maximum(np.abs(ours), np.abs(theirs))
    return np.where(scale == 0, 0.0, np.abs(ours - theirs) / np.where(scale == 0, 1, scale))


# --- trend: ADX, +DI, -DI --------------------------------------------------------------------


@pytest.mark.parametrize("period", [14, 5])
def test_adx_and_dis_equal_talib(market, period):
    high, low, close = (market[name].to_numpy() for name in ("high", "low", "close"))
    ours = directional_movement(high, low, close, period)
    theirs = (talib.ADX(high, low, close, period), talib.PLUS_DI(high, low, close, period),
              talib.MINUS_DI(high, low, close, period))  # fmt: skip
    for mine, reference in zip(ours, theirs, strict=True):
        assert np.array_equal(np.isnan(mine), np.isnan(reference))  # the same warm-up
        assert _relative(mine[WARM_UP:], reference[WARM_UP:]).max() <= MAX_RELATIVE_DIFFERENCE


def test_adx_equals_talib_through_flat_stretches():
    # 500 constant bars (the Wilder sums decay towards 0 but stay above it: TA-Lib still divides),
    # then a series constant from its start (sums exactly 0: DIs of 0, DX left out of ADX).
    rng = np.random.default_rng(0)
    close = 100 + np.cumsum(rng.normal(0, 1, 1000))
    flat = (np.arange(1000) >= 100) & (np.arange(1000) < 600)
    close[flat] = close[99]
    high, low = close + np.where(flat, 0, 0.5), close - np.where(flat, 0, 0.5)
    constant = np.full(200, 7.0)
    constant[150:] += np.arange(50) * 0.1  # then a rise: ADX leaves 0 by TA-Lib's own rule
    for h, lo, c in ((high, low, close), (constant, constant, constant)):
        ours = directional_movement(h, lo, c, 14)
        theirs = (talib.ADX(h, lo, c, 14), talib.PLUS_DI(h, lo, c, 14), talib.MINUS_DI(h, lo, c, 14))
        for mine, reference in zip(ours, theirs, strict=True):
            assert np.array_equal(np.isnan(mine), np.isnan(reference))
            assert np.nanmax(np.abs(mine - reference)) <= 1e-8
    assert (talib.PLUS_DI(constant, constant, constant, 14)[14:150] == 0).all()  # the zero branch ran


# --- vol: the expanding quantile ---------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 2, 3, 5, 64, 65, 127, 1500])
def test_expanding_counts_equal_brute_force_with_ties(size):
    rng = np.random.default_rng(size)
    values = np.round(rng.normal(size=size), 1)  # many ties
    expected = np.array([(values[: t + 1] <= values[t]).sum() for t in range(values.size)], dtype=np.int64)
    assert np.array_equal(expanding_le_counts(values), expected)


def test_vol_codes_equal_numpy_quantiles_of_the_expanding_history():
    rng = np.random.default_rng(2)
    vol = rng.lognormal(size=700)
    vol[:20] = np.nan
    vol[300:320] = vol[299]  # ties
    quantiles = (0.25, 0.8)
    codes = vol_codes(vol, quantiles, 40)
    assert np.isnan(codes[:40]).all()
    for t in range(40, vol.size):
        history = vol[: t + 1][~np.isnan(vol[: t + 1])]
        low, high = np.quantile(history, quantiles, method="lower")
        expected = 0 if vol[t] < low else 2 if vol[t] >= high else 1
        assert codes[t] == expected, t


def test_labels_are_the_named_values_and_null_before_min_history(goog):
    labels = label_regimes(goog, RegimeConfig())
    assert labels.columns == ["ts", "vol", "trend"]
    assert labels.schema["vol"] == pl.Utf8 and labels.schema["trend"] == pl.Utf8
    assert_series_equal(labels["ts"], goog["ts"])
    assert labels.head(60)["vol"].null_count() == 60 and labels.head(60)["trend"].null_count() == 60
    rest = labels.slice(60)
    assert set(rest["vol"].to_list()) == set(VOL_LABELS)
    assert set(rest["trend"].to_list()) == set(TREND_LABELS)
    # On this series each vol regime holds a share near what its quantiles promise.
    shares = rest["vol"].value_counts(normalize=True)
    assert all(0.1 < share < 0.6 for share in shares["proportion"])


@pytest.mark.parametrize("bars", [0, 1, 30, 61])
def test_short_series_have_null_labels_not_errors(goog, bars):
    labels = label_regimes(goog.head(bars), RegimeConfig(hmm_states=2, hmm_train_bars=200))
    assert labels.height == bars and labels.columns == ["ts", "vol", "trend", "hmm"]
    assert labels["hmm"].null_count() == bars  # shorter than its training bars: no HMM yet
    assert labels["vol"].null_count() == min(bars, 60)


# --- causality -------------------------------------------------------------------------------


@pytest.mark.parametrize("t", [80, 400, 1500, 2100])
def test_vol_and_trend_labels_ignore_later_bars(goog, t):
    config = RegimeConfig()
    before = label_regimes(goog, config)
    after = label_regimes(_changed_after(goog, t, seed=t), config)
    assert_frame_equal(before.head(t + 1), after.head(t + 1))
    assert not before.slice(t + 1).equals(after.slice(t + 1))  # the change reached the later bars


HMM = RegimeConfig(hmm_states=2, hmm_train_bars=300, axis="hmm")


@pytest.fixture(scope="module")
def switching() -> pl.DataFrame:
    return _switching_bars()


@pytest.fixture(scope="module")
def hmm_run(switching):
    """The HMM labels of the switching bars, and of the same bars changed after rows 350 and 550."""
    return {
        t: hmm_labels(_changed_after(switching, t, seed=t) if t else switching, HMM) for t in (0, 350, 550)
    }


def test_hmm_labels_ignore_later_bars(hmm_run):
    labels = hmm_run[0]
    assert labels.head(HMM.hmm_train_bars).null_count() == HMM.hmm_train_bars  # never labelled in-sample
    assert set(labels.slice(HMM.hmm_train_bars).to_list()) == {"state_0", "state_1"}
    for t in (350, 550):
        assert_series_equal(labels.head(t + 1), hmm_run[t].head(t + 1))
        assert not labels.slice(t + 1).equals(hmm_run[t].slice(t + 1))  # the change reached later bars


def test_hmm_states_are_ordered_by_volatility(switching, hmm_run):
    labels = hmm_run[0].slice(HMM.hmm_train_bars)
    vol_of = pl.DataFrame(
        {"label": labels, "vol": hmm_features(switching["close"].to_numpy(), 20)[HMM.hmm_train_bars :, 1]}
    )
    means = vol_of.group_by("label").agg(pl.col("vol").mean()).sort("label")["vol"].to_list()
    assert means[0] < means[1]  # state_0 is the calm one


def test_hmm_filtering_is_not_smoothing(switching):
    features = hmm_features(switching["close"].to_numpy(), 20)[20:]
    fitted = fit_hmm(features[:280], 2)
    filtered = forward_probabilities(fitted, features)
    # The forward recursion, row by row, equals hmmlearn's own forward pass on each prefix...
    scaled = (features - fitted.mean) / fitted.scale
    for t in (0, 100, 500):
        _, posteriors = fitted.model.score_samples(scaled[: t + 1])
        assert np.allclose(filtered[t], posteriors[t], atol=1e-9)  # the last row of a prefix is filtered
    # ...while hmmlearn's predict_proba on the whole series smooths, and disagrees somewhere.
    smoothed = fitted.model.predict_proba(scaled)
    assert not np.allclose(filtered, smoothed, atol=1e-3)
    assert (filtered.argmax(axis=1) != smoothed.argmax(axis=1)).any()


def test_hmm_with_too_few_training_rows_is_one_line():
    with pytest.raises(
        ValueError, match=r"hmm_train_bars 100: 3 hmm states need at least 230 training rows"
    ) as error:
        RegimeConfig(hmm_states=3, hmm_train_bars=100)
    with pytest.raises(RegimeError, match="need at least 130 training rows .* got 50") as error:
        fit_hmm(np.random.default_rng(0).normal(size=(50, 2)), 2)
    assert "\n" not in str(error.value)


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantiles", "message"),
    [((0.7, 0.3), "the first must be below the second"), ((0.0, 0.5), "strictly between 0 and 1"),
     ((0.3, 1.0), "strictly between 0 and 1"), ((0.5, 0.5), "the first must be below the second")],
)  # fmt: skip
def test_thresholds_out_of_order_or_range_are_refused(quantiles, message):
    with pytest.raises(ValueError, match=message):
        RegimeConfig(vol_quantiles=quantiles)
    with pytest.raises(ValueError, match=r"features\[0\]\.?.*quantiles"):
        parse_recipe({"features": [{"indicator": "regime_vol", "quantiles": list(quantiles)}]})


def test_bars_without_prices_or_out_of_order_are_refused(goog):
    with pytest.raises(RegimeError, match="lack column"):
        label_regimes(goog.drop("high"), RegimeConfig())
    with pytest.raises(RegimeError, match="increasing ts order"):
        label_regimes(goog.reverse(), RegimeConfig())


def test_label_key_changes_with_labels_not_with_the_axis():
    assert RegimeConfig().label_key() == RegimeConfig(axis="vol").label_key()
    assert RegimeConfig().label_key() != RegimeConfig(vol_window=30).label_key()


# --- events ----------------------------------------------------------------------------------


def test_volatility_clusters_are_the_runs_of_high_vol():
    ts = [datetime(2024, 1, day, tzinfo=UTC) for day in range(1, 11)]
    vol = [None, "low", "high", "high", "normal", "high", "low", "high", "high", "high"]
    events = volatility_clusters(pl.DataFrame({"ts": ts, "vol": vol}))
    assert [(e.start.day, e.end.day, e.bars, e.ongoing) for e in events] == [
        (3, 4, 2, False), (6, 6, 1, False), (8, 10, 3, True)]  # fmt: skip
    assert [e.bars for e in volatility_clusters(pl.DataFrame({"ts": ts, "vol": vol}), min_bars=2)] == [2, 3]


def _liquidations(volume: np.ndarray) -> pl.DataFrame:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return pl.DataFrame({"ts": [start + timedelta(hours=i) for i in range(volume.size)],
                         "long_usd": volume * 0.6, "short_usd": volume * 0.4})  # fmt: skip


def test_liquidation_cascades_are_runs_above_k_times_the_median_before():
    rng = np.random.default_rng(4)
    volume = rng.uniform(90, 110, 200)
    volume[[100, 101, 102]] = [400, 800, 350]  # a cascade of three hours
    volume[150] = 290  # under 3x the median of ~100
    volume[5] = 5000  # before the window is full: not judged
    events = liquidation_cascades(_liquidations(volume), multiple=3.0, window=24)
    assert [(e.start.hour, e.bars, e.ongoing) for e in events] == [(4, 3, False)]  # row 100 = day 5, 04:00
    assert events[0].peak == pytest.approx(8.0, rel=0.15)
    # Causal: a row's ratio does not move when later rows change.
    changed = volume.copy()
    changed[120:] *= 50
    assert_series_equal(
        cascade_ratio(_liquidations(volume), 24).head(120),
        cascade_ratio(_liquidations(changed), 24).head(120),
    )


def test_cascade_rule_bad_input_is_one_line():
    with pytest.raises(RegimeError, match="lack column"):
        liquidation_cascades(pl.DataFrame({"ts": [], "long_usd": []}))
    with pytest.raises(RegimeError, match="window must be at least 2"):
        liquidation_cascades(_liquidations(np.ones(5)), window=1)
    with pytest.raises(RegimeError, match="multiple must be above 0"):
        liquidation_cascades(_liquidations(np.ones(5)), multiple=0)


# --- recipe entries --------------------------------------------------------------------------

REGIME_RECIPE = {"features": [{"indicator": "regime_vol"}, {"indicator": "regime_trend"},
                              {"indicator": "regime_trend", "period": 10, "threshold": 20}]}  # fmt: skip


def test_recipe_entries_are_the_labels_as_numbers(goog):
    spec = VersionSpec(
        features=FeatureChoice(recipe="regimes.yaml", document=REGIME_RECIPE), model=ModelSpec(kind="linear")
    )
    frame = version_features(goog, spec)
    assert parse_recipe(REGIME_RECIPE).columns() == [
        "regime_vol_20",
        "regime_trend_14",
        "regime_trend_10_t20",
    ]
    labels = label_regimes(goog, RegimeConfig())
    other = label_regimes(goog, RegimeConfig(adx_period=10, adx_threshold=20))
    for column, label, codes in (
        ("regime_vol_20", labels["vol"], VOL_CODES),
        ("regime_trend_14", labels["trend"], TREND_CODES),
        ("regime_trend_10_t20", other["trend"], TREND_CODES),
    ):
        numbers = label.replace_strict(codes, return_dtype=pl.Float64)
        assert_series_equal(frame[column], numbers, check_names=False)


def test_recipe_entries_keep_symbols_apart_and_ignore_later_bars(goog):
    recipe = parse_recipe(REGIME_RECIPE)
    alone = compute_features(goog, recipe)
    other = _changed_after(goog, 0, seed=9).with_columns(symbol=pl.lit("OTHER"))
    both = compute_features(pl.concat([other, goog]), recipe)
    assert_frame_equal(both.filter(pl.col("symbol") == "GOOG"), alone)
    t = 1000
    changed = compute_features(_changed_after(goog, t, seed=1), recipe)
    assert_frame_equal(
        changed.head(t + 1).select(recipe.columns()), alone.head(t + 1).select(recipe.columns())
    )


def test_live_tail_windows_give_the_batch_numbers(goog):
    recipe = parse_recipe(REGIME_RECIPE)
    batch = compute_features(goog, recipe)
    tail = TailFeatures(recipe)
    assert tail.bars_needed() is None
    tail.compute(goog.head(1500))
    assert tail.bars_needed() is None  # the expanding quantile reads the whole history every time
    assert_frame_equal(tail.compute(goog.head(1600)), batch.head(1600))
    trend_only = parse_recipe({"features": [{"indicator": "regime_trend"}]})
    tail = TailFeatures(trend_only)
    tail.compute(goog.head(1500))
    needed = tail.bars_needed()
    assert needed is not None and needed < 1500
    window = goog.slice(1600 - needed - 100, needed + 100)
    assert_frame_equal(
        tail.compute(window).slice(needed), compute_features(goog, trend_only).slice(1600 - 100, 100)
    )

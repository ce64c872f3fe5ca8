"""train_model end to end: honest out-of-sample numbers, a usable artifact, clear refusals."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from engine.data import data_fingerprint, load_ohlcv
from engine.datasets import BUNDLED, bundled_path
from engine.features import FEATURES
from engine.models import MODEL_KINDS
from engine.training import TrainingResult, train_model

FAST = {"linear": None, "lightgbm": {"n_estimators": 50}}
METRIC_KEYS = {"mae", "rmse", "hit_rate", "ic", "sharpe", "n"}


def ar1_returns(n: int, phi: float, seed: int) -> np.ndarray:
    """Returns where each bar continues `phi` of the previous one: ret_1 predicts fwd_ret_1."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(scale=0.01, size=n)
    returns = np.empty(n)
    returns[0] = noise[0]
    for t in range(1, n):
        returns[t] = phi * returns[t - 1] + noise[t]
    return returns


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_planted_signal_is_found_and_shuffled_targets_score_like_chance(make_bars, kind):
    returns = ar1_returns(1200, phi=0.6, seed=1)
    planted = train_model(make_bars(returns), kind, timeframe="1d", params=FAST[kind])
    assert planted.manifest.metrics["ic"] > 0.3
    assert planted.manifest.metrics["hit_rate"] > 0.6
    # The same returns in random order: the features no longer say anything about the future.
    shuffled = np.random.default_rng(2).permutation(returns)
    chance = train_model(make_bars(shuffled), kind, timeframe="1d", params=FAST[kind])
    assert abs(chance.manifest.metrics["ic"]) < 0.1
    assert abs(chance.manifest.metrics["hit_rate"] - 0.5) < 0.06


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("symbol", BUNDLED)
def test_bundled_data_trains(symbol, kind):
    frame = load_ohlcv(bundled_path(symbol))
    timeframe = BUNDLED[symbol][1]
    calls: list[tuple[float, str]] = []
    result = train_model(frame, kind, timeframe=timeframe, params=FAST[kind],
                         progress=lambda fraction, message: calls.append((fraction, message)))  # fmt: skip
    assert isinstance(result, TrainingResult)
    manifest = result.manifest
    assert (manifest.model_kind, manifest.timeframe, manifest.target) == (kind, timeframe, "fwd_ret_1")
    assert list(manifest.features) == FEATURES and manifest.horizon == 1 and manifest.seed == 42
    assert manifest.n_rows == frame.height - 20 - 1  # 20 warm-up bars, 1 bar of unknown future
    assert manifest.data_fingerprint == data_fingerprint(frame)
    assert manifest.data_start < manifest.data_end and manifest.data_end.utcoffset() == timedelta(0)
    assert len(manifest.folds) == 5
    assert set(manifest.metrics) == METRIC_KEYS
    assert manifest.metrics["n"] == sum(fold.metrics["n"] for fold in manifest.folds)
    assert all(math.isfinite(manifest.metrics[key]) for key in METRIC_KEYS)
    for fold in manifest.folds:
        assert set(fold.metrics) == METRIC_KEYS
        assert fold.train_end + manifest.horizon <= fold.test_start
        assert fold.train_end_ts < fold.test_start_ts <= fold.test_end_ts
    fractions = [fraction for fraction, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(calls) == 6
    model = MODEL_KINDS[kind].from_bytes(result.artifact)
    assert manifest.artifact_format == model.artifact_format
    assert model.predict(np.zeros((3, len(FEATURES)))).shape == (3,)
    assert manifest.params == model.get_params()
    assert manifest.library_versions == MODEL_KINDS[kind].library_versions()


def test_training_is_reproducible(btc):
    first = train_model(btc, "lightgbm", timeframe="1mo", params={"n_estimators": 20}, seed=5)
    second = train_model(btc, "lightgbm", timeframe="1mo", params={"n_estimators": 20}, seed=5)
    assert first.manifest.metrics == second.manifest.metrics and first.artifact == second.artifact


def test_horizon_purges_more_rows(btc):
    result = train_model(btc, "linear", timeframe="1mo", horizon=3, n_folds=3, cost_bps=0.0)
    assert result.manifest.target == "fwd_ret_3" and result.manifest.n_rows == btc.height - 20 - 3
    assert all(fold.test_start - fold.train_end == 3 for fold in result.manifest.folds)


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        (lambda f: f.head(60), {}, "too few rows to train"),
        (lambda f: pl.concat([f, f.with_columns(pl.lit("B").alias("symbol"))]), {},
         "one symbol at a time"),
        (lambda f: f.drop("volume"), {}, "missing columns"),
        (lambda f: f, {"timeframe": "1 fortnight"}, "unknown timeframe"),
        (lambda f: f, {"params": {"seed": 1}}, "seed"),
        (lambda f: f, {"params": {"depth": 1}}, "bad parameters"),
        (lambda f: f, {"horizon": 0}, "horizon"),
    ],
)  # fmt: skip
def test_bad_requests_raise(btc, change, kwargs, message):
    arguments = {"timeframe": "1mo", **kwargs}
    with pytest.raises(ValueError, match=message):
        train_model(change(btc), "linear", **arguments)


def test_unknown_model_kind(btc):
    with pytest.raises(ValueError, match="known kinds"):
        train_model(btc, "prophet", timeframe="1mo")

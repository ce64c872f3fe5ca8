"""train_model for every kind of the zoo: targets per task, classification metrics, early
stopping, and the quick and incremental cadences."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.features import add_features
from engine.models import NEURAL_MODEL_CLASSES, load_model, zoo
from engine.serving import servable_from_result
from engine.training import train_model

# Tiny settings: the point is that every kind goes through the pipeline, not how well it does.
SMALL = {
    "n_estimators": 10,
    "n_jobs": 1,
    "max_epochs": 2,
    "lookback": 8,
    "hidden_size": 8,
    "d_model": 8,
    "heads": 2,
    "channels": 8,
    "levels": 2,
    "n_neighbors": 10,
    "max_iter": 200,
}
CLASSIFICATION_METRICS = {"accuracy", "f1", "log_loss"}
TRADING_METRICS = {"mae", "rmse", "hit_rate", "ic", "sharpe", "n"}


@pytest.fixture(scope="module")
def goog():
    return load_ohlcv(bundled_path("GOOG"), symbol="GOOG").tail(420)


def small_params(entry) -> dict:
    return {name: value for name, value in SMALL.items() if name in entry["default_params"]}


def kinds_here():
    for entry in zoo():
        if not entry["available"]:
            continue  # catboost without its library: `huracan models` says so
        if entry["family"] == "reinforcement":
            continue  # the agents: test_engine_rl_agents.py trains them walk-forward with few steps
        marks = []
        if entry["family"] == "neural" and not NEURAL_MODEL_CLASSES:
            marks = [pytest.mark.skip(reason="the neural kinds are not importable in this checkout")]
        yield pytest.param(entry, id=entry["kind"], marks=marks)


@pytest.mark.parametrize("entry", list(kinds_here()))
def test_every_available_kind_trains_through_the_pipeline(goog, entry):
    kind = entry["kind"]
    result = train_model(goog, kind, timeframe="1d", n_folds=2, params=small_params(entry))
    classifier = entry["task"] == "classification"
    assert result.manifest.task == entry["task"] and result.manifest.cadence == "full"
    assert result.manifest.target == ("direction_1" if classifier else "fwd_ret_1")
    manifest = result.manifest
    assert len(manifest.folds) == 2 and manifest.metrics["n"] == sum(f.metrics["n"] for f in manifest.folds)
    expected = TRADING_METRICS | (CLASSIFICATION_METRICS if classifier else set())
    assert set(result.manifest.metrics) == expected
    # The stored artifact is the final model, in the library's own format, and it predicts.
    predictions = servable_from_result(result).predict_frame(goog)
    assert predictions.height > 300 and np.isfinite(predictions["prediction"].to_numpy()).all()
    if classifier:
        assert result.manifest.threshold_bps == 0.0
        assert np.abs(predictions["prediction"].to_numpy()).max() <= 1.0 + 1e-9


def test_classifier_prediction_is_the_expected_direction(goog):
    result = train_model(goog, "logistic", timeframe="1d", n_folds=2, threshold_bps=5.0)
    model = load_model("logistic", result.artifact)
    assert model.classes_.tolist() == [-1, 0, 1]  # a threshold gives sell / hold / buy
    ready = add_features(goog).drop_nulls(result.manifest.features)
    proba = model.predict_proba(ready.select(result.manifest.features).to_numpy())
    expected = proba[:, 2] - proba[:, 0]  # P(buy) - P(sell)
    got = servable_from_result(result).predict_frame(goog)["prediction"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert result.manifest.threshold_bps == 5.0 and 0 <= result.manifest.metrics["accuracy"] <= 1


def test_threshold_zero_gives_two_classes(goog):
    result = train_model(goog, "logistic", timeframe="1d", n_folds=2)
    assert load_model("logistic", result.artifact).classes_.tolist() == [-1, 1]


def test_regression_kinds_keep_their_manifest_fields(goog):
    result = train_model(goog, "linear", timeframe="1d", n_folds=2)
    manifest = result.manifest
    assert (manifest.task, manifest.cadence, manifest.threshold_bps, manifest.early_stopping) == (
        "regression",
        "full",
        None,
        False,
    )
    assert result.manifest.warm_start_from is None


def test_early_stopping_is_opt_in_and_only_for_kinds_that_have_it(goog):
    params = {"n_estimators": 400, "learning_rate": 0.3, "n_jobs": 1, "early_stopping_rounds": 5}
    plain = train_model(goog, "xgboost", timeframe="1d", n_folds=2, params=params)
    stopped = train_model(
        goog, "xgboost", timeframe="1d", n_folds=2, params={**params, "early_stopping": True}
    )
    assert stopped.manifest.early_stopping and not plain.manifest.early_stopping
    assert load_model("xgboost", plain.artifact).n_iterations_ == 400
    assert load_model("xgboost", stopped.artifact).n_iterations_ < 400
    with pytest.raises(ValueError, match="early_stopping: model kind 'linear' has no early stopping"):
        train_model(goog, "linear", timeframe="1d", n_folds=2, early_stopping=True)


def test_quick_cadence_runs_two_folds(goog):
    result = train_model(goog, "linear", timeframe="1d", n_folds=5, cadence="quick")
    assert result.manifest.cadence == "quick" and len(result.manifest.folds) == 2


def test_incremental_cadence_continues_on_the_new_bars_only():
    frame = load_ohlcv(bundled_path("GOOG"), symbol="GOOG").tail(600)
    params = {"n_estimators": 10, "n_jobs": 1}
    first = train_model(frame.head(450), "xgboost", timeframe="1d", n_folds=2, params=params)
    more = train_model(
        frame,
        "xgboost",
        timeframe="1d",
        params=params,
        cadence="incremental",
        previous=first.artifact,
        previous_data_end=first.manifest.data_end,
    )
    assert more.manifest.cadence == "incremental" and more.manifest.warm_start_from == first.manifest.data_end
    # Bars 450..598 (599 has no target yet) and bar 449, whose target is known now.
    assert more.manifest.data_start > first.manifest.data_end and more.manifest.n_rows == 150
    (fold,) = more.manifest.folds  # validation on the latest block, purged by the horizon
    assert fold.test_start - fold.train_end == 1 and fold.test_end == more.manifest.n_rows
    assert fold.test_start_ts > fold.train_end_ts > first.manifest.data_end
    # Boosting continued: the previous trees plus the new ones.
    assert load_model("xgboost", more.artifact).n_iterations_ == 20


def test_incremental_cadence_refuses_what_cannot_work(goog):
    first = train_model(goog, "linear", timeframe="1d", n_folds=2)
    with pytest.raises(ValueError, match="cannot warm start"):
        train_model(
            goog,
            "linear",
            timeframe="1d",
            cadence="incremental",
            previous=first.artifact,
            previous_data_end=first.manifest.data_start,
        )
    boosted = train_model(goog, "lightgbm", timeframe="1d", n_folds=2, params={"n_estimators": 5})
    with pytest.raises(ValueError, match="too few new rows"):
        train_model(
            goog,
            "lightgbm",
            timeframe="1d",
            cadence="incremental",
            previous=boosted.artifact,
            previous_data_end=boosted.manifest.data_end,
        )
    with pytest.raises(ValueError, match="unknown cadence"):
        train_model(goog, "linear", timeframe="1d", cadence="sometimes")

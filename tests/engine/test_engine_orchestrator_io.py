"""Orchestrator.save / Orchestrator.load: every trained model, the preprocessor, the ensemble's
weights or meta-learner and the online learner come back and predict exactly as before."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.orchestrator import MANIFEST_NAME, Orchestrator


def _regression(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = 0.6 * X[:, 0] - 0.3 * X[:, 1] + 0.4 * rng.normal(size=n)
    return X, y


def _trained(config: dict, X, y) -> Orchestrator:
    orchestrator = Orchestrator(config)
    orchestrator.train_all_models(X[:160], y[:160], X[160:200], y[160:200])
    return orchestrator


REGRESSION_MODELS = {"linear": {}, "lightgbm": {"params": {"n_estimators": 15}},
                     "random_forest": {"params": {"n_estimators": 10, "max_depth": 3}}}


@pytest.mark.parametrize("method", ["average", "performance_weighted", "optimised", "stacking", "none"])
def test_predictions_after_load_equal_those_before(tmp_path, method):
    X, y = _regression()
    config = {"models": REGRESSION_MODELS,
              "ensemble": {"method": method, "metric": "inverse_rmse", "n_splits": 3},
              "online": {"enabled": method in ("stacking", "average")}}
    before = _trained(config, X, y)
    folder = before.save(tmp_path / "saved")
    after = Orchestrator.load(folder)
    new = X[200:]
    for use_ensemble in (True, False):
        np.testing.assert_array_equal(after.predict(new, use_ensemble), before.predict(new, use_ensemble))
    assert after.best_kind_ == before.best_kind_ and list(after.models_) == list(before.models_)
    for kind, model in before.models_.items():
        np.testing.assert_array_equal(after.models_[kind].predict(new), model.predict(new))
    if method in ("average", "performance_weighted", "optimised"):
        np.testing.assert_array_equal(after.ensemble_.weights_, before.ensemble_.weights_)
    assert (after.ensemble_ is None) == (before.ensemble_ is None)
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"].values())
    assert not list(folder.glob("*.pkl"))


def test_a_loaded_orchestrator_keeps_learning_online_like_the_original(tmp_path):
    X, y = _regression()
    config = {"models": {"linear": {}}, "ensemble": {"method": "none"}, "online": {"enabled": True}}
    original = _trained(config, X, y)
    loaded = Orchestrator.load(original.save(tmp_path / "saved"))
    original.learn_more(X[200:220], y[200:220])
    loaded.learn_more(X[200:220], y[200:220])
    np.testing.assert_array_equal(loaded.predict(X[220:]), original.predict(X[220:]))


def test_classification_with_stacking_round_trips(tmp_path):
    X, y = _regression(seed=1)
    labels = np.where(y > 0, 1, -1)
    config = {"task": "classification",
              "models": {"logistic": {}, "lightgbm_classifier": {"params": {"n_estimators": 15}}},
              "ensemble": {"method": "stacking", "meta_learner": "logistic", "n_splits": 3}}
    before = _trained(config, X, labels)
    after = Orchestrator.load(before.save(tmp_path / "saved"))
    np.testing.assert_array_equal(after.predict_proba(X[200:]), before.predict_proba(X[200:]))
    np.testing.assert_array_equal(after.predict(X[200:]), before.predict(X[200:]))


def test_a_modified_file_or_a_missing_manifest_is_refused_naming_the_file(tmp_path):
    X, y = _regression()
    folder = _trained({"models": {"linear": {}, "lightgbm": {"params": {"n_estimators": 10}}}}, X, y).save(
        tmp_path / "saved")
    artifact = folder / "model-lightgbm.bin"
    artifact.write_bytes(artifact.read_bytes().replace(b"tree", b"TREE", 1))
    with pytest.raises(ValueError, match="model-lightgbm.bin: sha256 does not match"):
        Orchestrator.load(folder)
    with pytest.raises(ValueError, match="no saved orchestrator here"):
        Orchestrator.load(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="not trained yet"):
        Orchestrator({"models": {"linear": {}}}).save(tmp_path / "untrained")

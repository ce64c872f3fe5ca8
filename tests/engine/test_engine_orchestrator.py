"""The ML framework config (errors name the key) and the Orchestrator's seeds-shaped API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from engine.ml_config import MLConfigError, load_ml_config, parse_ml_config
from engine.models import make_model
from engine.orchestrator import Orchestrator

EXAMPLE = Path(__file__).resolve().parents[2] / "ml_framework.example.yaml"


def _frame(n=360, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = 0.6 * X[:, 0] - 0.3 * X[:, 1] + 0.4 * rng.normal(size=n)
    return X, y


def _small(data: dict) -> dict:
    """The example with fewer trees, so the test stays fast."""
    for entry in data["models"].values():
        if "n_estimators" in entry.get("params", {}):
            entry["params"]["n_estimators"] = 20
    return data


# ---- config ----------------------------------------------------------------------------------


def test_the_example_config_loads_and_every_enabled_model_trains():
    config = load_ml_config(EXAMPLE)
    assert config.task == "regression" and config.online.enabled and config.online.weight == 0.2
    assert config.enabled_kinds() == ["linear", "random_forest", "lightgbm"]
    X, y = _frame()
    for kind in config.enabled_kinds():
        model = make_model(kind, **config.model_params(kind)).fit(X[:200], y[:200])
        assert np.isfinite(model.predict(X[200:])).all()
    assert config.model_params("linear")["seed"] == 42


def _error(tmp_path, data) -> str:
    path = tmp_path / "ml_framework.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(MLConfigError) as caught:
        load_ml_config(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"models": {"linaer": {}}}, "models.linaer: unknown model kind"),
        (
            {"models": {"lightgbm": {"params": {"n_estimatorz": 5}}}},
            "models.lightgbm.params.n_estimatorz: unknown",
        ),
        ({"models": {"lightgbm": {"params": {"n_estimators": 0}}}}, "models.lightgbm.params.n_estimators: "),
        ({"models": {"linear": {"enabled": True, "parms": {}}}}, "models.linear.parms: "),
        ({"models": {"logistic": {}}}, "models.logistic: 'logistic' is a classification model"),
        ({"models": {"linear": {"enabled": False}}}, "models: enable at least one model"),
        ({"models": {"linear": {}}, "ensemble": {"method": "vote"}}, "ensemble.method: "),
        ({"models": {"linear": {}}, "ensemble": {"window": 1}}, "ensemble.window: "),
        (
            {"models": {"linear": {}}, "ensemble": {"method": "stacking", "meta_params": {"beta": 1}}},
            "ensemble.meta_params.beta: unknown",
        ),
        ({"models": {"linear": {}}, "online": {"enabled": True, "weight": 1.5}}, "online.weight: "),
        ({"models": {"linear": {}}, "online": {"enabled": True, "kind": "knn"}}, "online.kind: 'knn' is not"),
        ({"models": {"linear": {}}, "preprocessing": {"scaling": "zscore"}}, "preprocessing.scaling: "),
        ({"models": {"linear": {}}, "seeds": 1}, "seeds: "),
    ],
)
def test_config_errors_name_the_key(tmp_path, data, key):
    assert _error(tmp_path, data).startswith(key)


def test_a_disabled_model_needs_no_library_but_its_parameter_names_are_checked():
    config = parse_ml_config({"models": {"linear": {}, "catboost": {"enabled": False}}})
    assert config.enabled_kinds() == ["linear"]
    with pytest.raises(MLConfigError, match=r"^models\.knn\.params\.k: unknown"):
        parse_ml_config({"models": {"linear": {}, "knn": {"enabled": False, "params": {"k": 3}}}})


def test_missing_and_malformed_files_are_one_line(tmp_path):
    with pytest.raises(MLConfigError, match="file not found"):
        load_ml_config(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("models: {linear: [\n")
    with pytest.raises(MLConfigError, match=r"broken.yaml: not valid YAML at line \d"):
        load_ml_config(broken)


# ---- the orchestrator ------------------------------------------------------------------------


def test_orchestrator_keeps_the_seeds_shape(tmp_path):
    path = tmp_path / "ml_framework.yaml"
    path.write_text(yaml.safe_dump(_small(yaml.safe_load(EXAMPLE.read_text()))))
    X, y = _frame()
    orchestrator = Orchestrator.from_yaml(path)
    metrics = orchestrator.train_all_models(X[:240], y[:240], X[240:300], y[240:300])
    assert set(metrics) == {"linear", "random_forest", "lightgbm", "ensemble", "blend"}
    assert all(metrics[kind]["rmse"] < np.std(y) for kind in metrics)
    assert set(orchestrator.models_) == {"linear", "random_forest", "lightgbm"}
    assert orchestrator.best_kind_ == min(orchestrator.models_, key=lambda kind: metrics[kind]["rmse"])

    X_new = X[300:]
    ensemble = orchestrator.predict(X_new, use_ensemble=True)
    single = orchestrator.predict(X_new, use_ensemble=False)
    assert ensemble.shape == single.shape == (60,)
    assert not np.allclose(ensemble, single)
    # the blend: 0.8 · batch + 0.2 · online, on preprocessed features
    Z = orchestrator.preprocessor_.transform(X_new)
    expected = 0.8 * orchestrator.ensemble_.predict(Z) + 0.2 * orchestrator.online_.predict(Z)
    np.testing.assert_allclose(ensemble, expected, rtol=1e-12)
    # predicting learns nothing; learn_more continues the online learner only
    np.testing.assert_array_equal(orchestrator.predict(X_new), ensemble)
    learned = orchestrator.online_.n_learned_
    orchestrator.learn_more(X_new, y[300:])
    assert orchestrator.online_.n_learned_ == learned + 60


def test_preprocessing_is_fitted_on_training_rows_only():
    X, y = _frame()
    X_val = X[240:300] * 100.0  # a validation period on another scale must not move the scaler
    orchestrator = Orchestrator({"models": {"linear": {}}, "ensemble": {"method": "none"}})
    orchestrator.train_all_models(X[:240], y[:240], X_val, y[240:300])
    scaler = orchestrator.preprocessor_.named_steps["scale"]
    np.testing.assert_allclose(scaler.mean_, X[:240].mean(axis=0), rtol=1e-12)
    assert orchestrator.ensemble_ is None and orchestrator.online_ is None


@pytest.mark.parametrize("method", ["average", "performance_weighted", "optimised"])
def test_each_weighted_method_trains_without_validation_data(method):
    X, y = _frame(240)
    config = {
        "models": {"linear": {}, "decision_tree": {"params": {"max_depth": 3}}},
        "ensemble": {"method": method, "metric": "inverse_rmse", "n_splits": 3},
    }
    orchestrator = Orchestrator(config)
    assert orchestrator.train_all_models(X[:200], y[:200]) == {}
    assert orchestrator.best_kind_ == "linear"  # no validation data: the first enabled model
    weights = orchestrator.ensemble_.weights_
    assert np.all(weights >= 0) and weights.sum() == pytest.approx(1.0)
    assert orchestrator.predict(X[200:]).shape == (40,)


def test_classification_with_stacking_and_an_online_learner():
    X, y = _frame()
    labels = np.where(y > 0, 1, -1)
    config = {
        "task": "classification",
        "models": {"logistic": {}, "decision_tree_classifier": {"params": {"max_depth": 3}}},
        "ensemble": {"method": "stacking", "meta_learner": "logistic", "n_splits": 3},
        "online": {"enabled": True, "kind": "river_logistic", "weight": 0.3},
    }
    orchestrator = Orchestrator(config)
    metrics = orchestrator.train_all_models(X[:240], labels[:240], X[240:300], labels[240:300])
    assert metrics["ensemble"]["accuracy"] > 0.6 and metrics["blend"]["accuracy"] > 0.6
    predicted = orchestrator.predict(X[300:])
    assert set(np.unique(predicted)) <= {-1, 1}
    proba = orchestrator.predict_proba(X[300:])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)

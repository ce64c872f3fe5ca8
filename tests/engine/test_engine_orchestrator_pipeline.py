"""The seeds' Python API over the one pipeline: ml_framework.yaml's preprocessing is validated by
the product's step models (the same error as the product's config) and fitted by the same
function training uses, and each enabled model maps to the product spec `huracan train` takes."""

import numpy as np
import pytest

from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.features import FEATURES, add_features
from engine.ml_config import MLConfigError, parse_ml_config
from engine.orchestrator import Orchestrator
from engine.preprocessing import fit_steps
from engine.targets import add_forward_return
from scheduler.config import ConfigError, load_config

STEPS = [
    {"step": "impute", "strategy": "median"},
    {"step": "scale", "method": "robust"},
    {"step": "pca", "variance": 0.9},
]


@pytest.fixture(scope="module")
def eurusd():
    frame = add_forward_return(add_features(load_ohlcv(bundled_path("EURUSD"), symbol="EURUSD")), 1)
    frame = frame.drop_nulls([*FEATURES, "fwd_ret_1"])
    return frame.select(FEATURES).to_numpy(), frame["fwd_ret_1"].to_numpy()


def test_a_bad_step_reads_the_same_in_ml_framework_yaml_and_in_the_product_config(tmp_path):
    bad = [{"step": "scale"}, {"step": "pca", "variance": 1.5}]
    with pytest.raises(MLConfigError) as seeds:
        parse_ml_config({"models": {"linear": {}}, "preprocessing": bad})
    path = tmp_path / "huracan.yaml"
    path.write_text("training:\n  preprocessing:\n    - {step: scale}\n    - {step: pca, variance: 1.5}\n")
    with pytest.raises(ConfigError) as product:
        load_config(path)
    message = "a PCA variance threshold must be in (0, 1], got 1.5"
    assert str(seeds.value) == f"preprocessing[1].variance: {message}"
    assert message in str(product.value) and "preprocessing" in str(product.value)
    assert "\n" not in str(seeds.value) + str(product.value)


def test_the_orchestrator_fits_the_steps_training_fits(eurusd):
    X, y = eurusd
    config = {
        "models": {"linear": {}, "decision_tree": {"params": {"max_depth": 3}}},
        "preprocessing": STEPS,
        "ensemble": {"method": "average"},
    }
    orchestrator = Orchestrator(config)
    orchestrator.train_all_models(X[:3000], y[:3000], X[3000:3500], y[3000:3500])
    steps = orchestrator.config.preprocessing_steps()
    same = fit_steps(
        steps,
        X[:3000],
        y[:3000],
        [f"x{i}" for i in range(X.shape[1])],
        task="regression",
        seed=orchestrator.config.seed,
    )
    np.testing.assert_array_equal(orchestrator.preprocessor_.transform(X[3000:]), same.transform(X[3000:]))
    spec = orchestrator.to_spec("decision_tree", recipe="core")
    assert spec.preprocessing == steps and spec.model.params == {"max_depth": 3}
    assert spec.model.seed == orchestrator.config.seed and spec.target.kind == "fwd_ret"
    assert orchestrator.predict(X[3500:3510], use_ensemble=True).shape == (10,)


def test_the_seeds_flat_preprocessing_maps_onto_ordered_steps():
    config = parse_ml_config(
        {
            "models": {"linear": {}},
            "preprocessing": {
                "imputation": "median",
                "outliers": "winsorize",
                "scaling": "robust",
                "pca": 0.95,
            },
        }
    )
    assert [step.step for step in config.preprocessing_steps()] == ["impute", "outliers", "scale", "pca"]
    assert config.preprocessing_steps()[3].variance == 0.95


def test_feedback_reads_the_same_in_ml_framework_yaml_and_in_the_product_config(tmp_path):
    with pytest.raises(MLConfigError) as seeds:
        parse_ml_config({"models": {"linear": {}}, "feedback": {"retrain": {"window": 1}}})
    path = tmp_path / "huracan.yaml"
    path.write_text("policies:\n  retrain: {window: 1}\n")
    with pytest.raises(ConfigError) as product:
        load_config(path)
    assert str(seeds.value) == "feedback.retrain.window: Input should be greater than or equal to 2"
    assert str(product.value).endswith("policies.retrain.window: Input should be greater than or equal to 2")
    with pytest.raises(MLConfigError, match=r"^feedback.prune.cooldown: not a duration: 'soon'"):
        parse_ml_config({"models": {"linear": {}}, "feedback": {"prune": {"cooldown": "soon"}}})


def test_the_product_runs_an_ml_framework_file(tmp_path):
    """load_config (the console, the CLI and --headless) maps the seeds' file onto the product's
    configuration: models, params, seed, steps, ensemble, online blend and feedback."""
    path = tmp_path / "ml_framework.yaml"
    path.write_text(
        "seed: 7\n"
        "models:\n"
        "  linear: {enabled: true, params: {alpha: 2.0}}\n"
        "  lightgbm: {enabled: true, params: {n_estimators: 20}}\n"
        "  knn: {enabled: false}\n"
        "preprocessing: [{step: scale, method: robust}]\n"
        "ensemble: {method: optimised}\n"
        "online: {enabled: true, weight: 0.3}\n"
        "feedback: {retrain: {sharpe_below: 0.5, cooldown: 12h}, rollback: {alpha: 0.05}}\n"
    )
    config = load_config(path)
    assert config.training.models == ["linear", "lightgbm"] and config.training.seed == 7
    assert config.training.params == {"linear": {"alpha": 2.0}, "lightgbm": {"n_estimators": 20}}
    steps = [step.model_dump() for step in config.training.preprocessing]
    assert steps == [{"step": "scale", "method": "robust"}]
    assert config.training.ensemble == "optimised" and config.live.blend_weight == 0.3
    assert (config.policies.retrain.sharpe_below, config.policies.retrain.cooldown) == (0.5, 43200.0)
    assert config.policies.rollback.alpha == 0.05

    path.write_text("models:\n  linear: {params: {alpah: 1}}\n")
    with pytest.raises(ConfigError) as bad:
        load_config(path)
    assert str(bad.value).startswith(f"{path}: models.linear.params.alpah: unknown parameter for linear")

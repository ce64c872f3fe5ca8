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

"""Model wrappers: sklearn shape, exact round trips through bytes, refusal of odd artifacts."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from engine.models import MODEL_KINDS, LightGBMModel, LinearModel, make_model

FAST = {"linear": {}, "lightgbm": {"n_estimators": 30}}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = 2.0 * X[:, 0] - X[:, 3] + rng.normal(scale=0.5, size=400)
    return X, y


def test_model_kinds():
    assert MODEL_KINDS == {"linear": LinearModel, "lightgbm": LightGBMModel}
    assert (LinearModel.kind, LinearModel.artifact_format) == ("linear", "skops")
    assert (LightGBMModel.kind, LightGBMModel.artifact_format) == ("lightgbm", "lightgbm-text")


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_round_trip_predicts_identically(data, kind):
    X, y = data
    model = make_model(kind, seed=3, **FAST[kind])
    assert model.fit(X, y) is model
    assert not hasattr(make_model(kind), "booster_") and not hasattr(make_model(kind), "pipeline_")
    loaded = MODEL_KINDS[kind].from_bytes(model.to_bytes())
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.get_params() == model.get_params()
    assert np.corrcoef(model.predict(X), y)[0, 1] > 0.8  # it did learn something


def test_params_and_defaults():
    assert make_model("linear").get_params() == {"alpha": 1.0, "seed": 42}
    assert make_model("lightgbm", seed=7).get_params() == {
        "n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 20,
        "subsample": 0.8, "colsample_bytree": 0.8, "subsample_freq": 1, "seed": 7, "n_jobs": 2,
    }  # fmt: skip


def test_library_versions():
    assert {"scikit-learn", "numpy"} <= set(LinearModel.library_versions())
    assert "lightgbm" in LightGBMModel.library_versions()


def test_lightgbm_is_reproducible(data):
    X, y = data
    first = make_model("lightgbm", n_estimators=30).fit(X, y).predict(X)
    second = make_model("lightgbm", n_estimators=30).fit(X, y).predict(X)
    np.testing.assert_array_equal(first, second)


def test_make_model_rejects_unknown_kind_and_params():
    with pytest.raises(ValueError, match="unknown model kind 'no_such_kind'; known kinds: linear, "):
        make_model("no_such_kind")
    with pytest.raises(ValueError, match="bad parameters for 'linear'"):
        make_model("linear", depth=3)


def shady(values):
    return values


def test_skops_artifact_with_unexpected_types_is_refused():
    pipeline = make_pipeline(FunctionTransformer(shady)).fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match="unexpected types"):
        LinearModel.from_bytes(skops.io.dumps(pipeline))

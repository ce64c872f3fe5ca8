"""The importance methods training stores per version, on the bundled GOOG bars and their core
features: shap (the boosters' own TreeSHAP, rows summing to the margin; the shap package's for
scikit-learn's trees, rows summing to the prediction; None for kinds without trees) and
permutation on out-of-sample folds (a planted feature first, a pure-noise column about 0,
seeded)."""

from __future__ import annotations

import numpy as np
import pytest

from engine import importance
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.features import FEATURES, add_features
from engine.models import make_model

NAMES = [*FEATURES, "noise"]
PLANTED = "rsi_14"


@pytest.fixture(scope="module")
def goog():
    """(X, y): the core features of GOOG plus a pure-noise column; y is the next bar's return
    (bps) plus a planted term in rsi_14 strong enough that a model must find it."""
    frame = add_features(load_ohlcv(bundled_path("GOOG"), symbol="GOOG")).drop_nulls(FEATURES)
    X = frame.select(FEATURES).to_numpy().astype(float)
    close = frame["close"].to_numpy().astype(float)
    next_ret = np.append(close[1:] / close[:-1] - 1, np.nan) * 1e4
    X, next_ret = X[:-1], next_ret[:-1]
    rng = np.random.default_rng(7)
    X = np.column_stack([X, rng.normal(size=X.shape[0])])
    planted = X[:, FEATURES.index(PLANTED)]
    y = next_ret + 2 * np.std(next_ret) * (planted - planted.mean()) / planted.std()
    return X, y


def walk_forward_blocks(X, y, kind: str, n_folds: int = 3, **params):
    """Each fold's own fitted model on the rows before it, with its test rows."""
    edges = np.linspace(X.shape[0] // 2, X.shape[0], n_folds + 1).astype(int)
    blocks = []
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        model = make_model(kind, **params).fit(X[:start], y[:start])
        blocks.append((model.predict, X[start:stop], y[start:stop]))
    return blocks


@pytest.mark.parametrize("kind", ["lightgbm", "xgboost", "catboost"])
def test_shap_rows_sum_to_the_margin_and_rank_the_planted_feature_first(kind, goog):
    X, y = goog
    model = make_model(kind, n_estimators=40, seed=0).fit(X, y)
    contributions = importance.shap_contributions(model, X)
    assert contributions.shape == (X.shape[0], X.shape[1] + 1)
    # A squared-error regressor's margin is its prediction.
    np.testing.assert_allclose(contributions.sum(axis=1), model.predict(X), rtol=1e-5, atol=1e-3)
    values = importance.shap_importance(model, X, NAMES)
    np.testing.assert_allclose(list(values.values()), np.abs(contributions[:, :-1]).mean(axis=0))
    assert max(values, key=values.get) == PLANTED


def test_shap_of_a_multiclass_catboost_averages_over_the_classes(goog):
    X, y = goog
    labels = np.where(y > 20, 1, np.where(y < -20, -1, 0))
    model = make_model("catboost_classifier", n_estimators=30, seed=0).fit(X, labels)
    contributions = importance.shap_contributions(model, X)
    assert contributions.shape == (X.shape[0], 3, X.shape[1] + 1)
    values = importance.shap_importance(model, X, NAMES)
    expected = np.abs(contributions[..., :-1]).reshape(-1, X.shape[1]).mean(axis=0)
    np.testing.assert_allclose(list(values.values()), expected)
    assert max(values, key=values.get) == PLANTED


@pytest.mark.parametrize("kind", ["linear", "knn"])
def test_kinds_without_trees_have_no_shap(kind, goog):
    X, y = goog
    model = make_model(kind).fit(X[:300], y[:300])
    assert importance.shap_importance(model, X[:50], NAMES) is None


@pytest.mark.parametrize(("kind", "params"), [
    ("decision_tree", {"max_depth": 4}),
    ("random_forest", {"n_estimators": 20, "max_depth": 5}),
])
def test_scikit_learn_trees_get_shap_from_the_shap_package(kind, params, goog):
    """Rows of contributions plus the explainer's base value are the tree's own predictions
    (TreeSHAP is exact), and the planted feature ranks first."""
    import shap

    X, y = goog
    model = make_model(kind, seed=0, **params).fit(X, y)
    contributions = importance.sklearn_tree_shap(model, X)
    assert contributions.shape == X.shape
    base = shap.TreeExplainer(importance.sklearn_tree(model)[1]).expected_value
    np.testing.assert_allclose(contributions.sum(axis=1) + np.ravel(base)[0], model.predict(X), rtol=1e-6,
                               atol=1e-6)
    values = importance.shap_importance(model, X, NAMES)
    np.testing.assert_allclose(list(values.values()), np.abs(contributions).mean(axis=0))
    assert max(values, key=values.get) == PLANTED


def test_a_forest_classifiers_shap_averages_over_its_classes(goog):
    X, y = goog
    labels = np.where(y > 20, 1, np.where(y < -20, -1, 0))
    model = make_model("random_forest_classifier", n_estimators=20, max_depth=5, seed=0).fit(X, labels)
    contributions = importance.sklearn_tree_shap(model, X)
    assert contributions.shape == (*X.shape, 3)
    values = importance.shap_importance(model, X, NAMES)
    np.testing.assert_allclose(list(values.values()), np.abs(contributions).mean(axis=(0, 2)))
    assert max(values, key=values.get) == PLANTED


@pytest.mark.parametrize("kind", ["lightgbm", "linear"])
def test_permutation_on_the_folds_finds_the_planted_feature_and_not_the_noise(kind, goog):
    X, y = goog
    params = {"n_estimators": 60, "seed": 0} if kind == "lightgbm" else {}
    blocks = walk_forward_blocks(X, y, kind, **params)
    values = importance.permutation_oos(blocks, NAMES, seed=3)
    assert list(values) == NAMES
    assert max(values, key=values.get) == PLANTED
    assert values[PLANTED] > 0.3  # shuffled, the planted column takes most of the IC with it
    assert abs(values["noise"]) < 0.05 * values[PLANTED]
    assert importance.permutation_oos(blocks, NAMES, seed=3) == values  # seeded
    assert importance.permutation_oos(blocks, NAMES, seed=4) != values


def test_permutation_weights_the_folds_by_their_scored_rows(goog):
    X, y = goog
    (block,) = walk_forward_blocks(X, y, "linear", n_folds=1)
    predict, X_test, y_test = block
    alone = importance.permutation_oos([block], NAMES, seed=0)
    # A second fold with no finite target is not scored, so it moves nothing.
    unscored = (predict, X_test[:40], np.full(40, np.nan))
    assert importance.permutation_oos([block, unscored], NAMES, seed=0) == alone
    # Shuffling a column the model is handed but whose prediction does not move costs nothing.
    constant = (lambda rows: np.zeros(rows.shape[0]), X_test, y_test)
    assert set(importance.permutation_oos([constant], NAMES, seed=0).values()) == {0.0}


def test_permutation_refuses_a_fold_of_the_wrong_width(goog):
    X, y = goog
    (block,) = walk_forward_blocks(X, y, "linear", n_folds=1)
    with pytest.raises(ValueError, match=r"not \(rows, 8 features\)"):
        importance.permutation_oos([block], FEATURES, seed=0)

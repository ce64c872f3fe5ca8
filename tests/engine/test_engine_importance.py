"""Feature importance: TreeSHAP equals the libraries' own contributions, permutation equals
scikit-learn's permutation_importance, and the model-free fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from engine import importance
from engine.models import make_model

FEATURES = ["signal", "weak", "noise"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = 3 * X[:, 0] + 0.5 * X[:, 1] + rng.normal(0, 0.1, 300)
    return X, y


@pytest.mark.parametrize("kind", ["xgboost", "lightgbm"])
def test_tree_shap_is_the_libraries_contributions(kind, data):
    X, y = data
    model = make_model(kind, n_estimators=30, seed=0).fit(X, y)
    contributions = importance.shap_contributions(model, X)
    assert contributions.shape == (X.shape[0], X.shape[1] + 1)
    # Each row adds up to the prediction (a squared-error regressor's margin is its prediction).
    np.testing.assert_allclose(contributions.sum(axis=1), model.predict(X), atol=1e-4)
    if kind == "xgboost":
        import xgboost

        library = model.booster_.predict(xgboost.DMatrix(X), pred_contribs=True)
    else:
        library = model.booster_.predict(X, pred_contrib=True)
    np.testing.assert_allclose(contributions, library, rtol=0, atol=0)
    values = importance.tree_shap(model, X, FEATURES)
    expected = np.abs(np.asarray(library, dtype=float)[:, :-1]).mean(axis=0)
    np.testing.assert_allclose(list(values.values()), expected)
    assert max(values, key=values.get) == "signal"
    assert importance.importance_for(model, X, y, FEATURES)[0] == "tree_shap"


def test_permutation_equals_sklearn(data):
    from sklearn.inspection import permutation_importance

    X, y = data
    model = make_model("linear").fit(X, y)
    ours = importance.permutation(model, X, y, FEATURES, n_repeats=4, seed=3)
    reference = model._fitted()  # the scikit-learn estimator the zoo model wraps
    theirs = permutation_importance(
        reference, X, y, scoring="neg_mean_squared_error", n_repeats=4, random_state=3
    ).importances_mean
    np.testing.assert_allclose(list(ours.values()), theirs, rtol=1e-9)
    assert max(ours, key=ours.get) == "signal"
    method, values = importance.importance_for(model, X, y, FEATURES)
    assert method == "permutation" and set(values) == set(FEATURES)


def test_classifier_permutation_uses_expected_direction(data):
    X, y = data
    labels = np.where(y > 0, 1, -1)
    model = make_model("logistic").fit(X, labels)
    values = importance.permutation(model, X, labels, FEATURES, n_repeats=2, seed=0)
    assert max(values, key=values.get) == "signal"


def test_model_free_fallbacks(data):
    X, y = data
    values = importance.correlation(X, y, FEATURES)
    for index, name in enumerate(FEATURES):
        assert values[name] == pytest.approx(abs(stats.spearmanr(X[:, index], y).statistic), abs=1e-12)
    assert importance.importance_for(None, X, y, FEATURES)[0] == "correlation"
    spread = importance.variance(X * [1, 2, 3], FEATURES)
    np.testing.assert_allclose(list(spread.values()), np.var(X * [1, 2, 3], axis=0, ddof=1))
    assert importance.importance_for(None, X, None, FEATURES)[0] == "variance"
    assert importance.correlation(np.ones((5, 1)), np.arange(5.0)) == {"f0": 0.0}
    with pytest.raises(ValueError, match="2 feature names for 3 columns"):
        importance.variance(X, ["a", "b"])
    with pytest.raises(ValueError, match="no TreeSHAP"):
        importance.tree_shap(make_model("linear").fit(X, y), X)

"""Feature importance of a fitted model: TreeSHAP, permutation, correlation, variance.

Every method returns {feature: value}, larger = more important:

- `tree_shap`: the boosting libraries' own TreeSHAP (xgboost `Booster.predict(DMatrix,
  pred_contribs=True)`, lightgbm `Booster.predict(X, pred_contrib=True)`, catboost
  `get_feature_importance(Pool, type="ShapValues")`); the value is the mean
  |contribution| of the feature over the rows of X (classifiers: averaged over the classes too).
  The bias column the libraries append is dropped.
- `permutation`: `sklearn.inspection.permutation_importance` on a thin adapter around any model
  of the zoo (its `predict`, or the expected direction P(buy) - P(sell) for classifiers); the
  value is the mean drop of the score over `n_repeats` shuffles.
- `correlation`: |Spearman| of each feature with the target (model-free).
- `variance`: the feature's variance (model- and target-free; the last resort).

`importance_for` picks the best one available, in this order: tree_shap (the model keeps an
xgboost, lightgbm or catboost booster), permutation (a model and a target), correlation (a target only),
variance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

METHODS = ("tree_shap", "permutation", "correlation", "variance")


def _names(features: Sequence[str] | None, n_columns: int) -> list[str]:
    names = list(features) if features is not None else [f"f{index}" for index in range(n_columns)]
    if len(names) != n_columns:
        raise ValueError(f"{len(names)} feature names for {n_columns} columns of X")
    return names


def _matrix(X) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty 2-D matrix, got shape {X.shape}")
    return X


def _booster(model):
    """('xgboost' | 'lightgbm' | 'catboost', booster) when the model keeps a booster whose own
    TreeSHAP we can read: xgboost and lightgbm kinds keep theirs as `booster_`, catboost kinds
    keep the CatBoost estimator as `model_`. scikit-learn's trees have no TreeSHAP of their own
    (the shap package computes theirs: sklearn_tree_shap)."""
    booster = getattr(model, "booster_", None)
    if booster is not None:
        module = type(booster).__module__
        if module.startswith("xgboost"):
            return "xgboost", booster
        if module.startswith("lightgbm"):
            return "lightgbm", booster
    estimator = getattr(model, "model_", None)
    if estimator is not None and type(estimator).__module__.startswith("catboost"):
        return "catboost", estimator
    return None, None


def supports_tree_shap(model) -> bool:
    return _booster(model)[0] is not None


def shap_contributions(model, X) -> np.ndarray:
    """Per-row contributions from the library, bias column last: (n, p + 1), or for multiclass
    models (n, classes, p + 1). Each row sums to the model's raw score (margin)."""
    library, booster = _booster(model)
    X = _matrix(X)
    if library == "xgboost":
        import xgboost

        names = booster.feature_names
        return np.asarray(
            booster.predict(xgboost.DMatrix(X, feature_names=names), pred_contribs=True), dtype=float
        )
    if library == "lightgbm":
        raw = np.asarray(booster.predict(X, pred_contrib=True), dtype=float)
        classes = booster.num_model_per_iteration()
        if classes > 1:  # lightgbm lays the classes side by side
            raw = raw.reshape(X.shape[0], classes, X.shape[1] + 1)
        return raw
    if library == "catboost":
        import catboost

        # Already (n, p + 1), or (n, classes, p + 1) for a multiclass model.
        return np.asarray(booster.get_feature_importance(catboost.Pool(X), type="ShapValues"), dtype=float)
    raise ValueError(
        f"{type(model).__name__} keeps no xgboost, lightgbm or catboost booster: no TreeSHAP"
    )


def tree_shap(model, X, features: Sequence[str] | None = None) -> dict[str, float]:
    X = _matrix(X)
    contributions = shap_contributions(model, X)[..., :-1]
    values = np.abs(contributions).reshape(-1, X.shape[1]).mean(axis=0)
    return dict(zip(_names(features, X.shape[1]), values.tolist(), strict=True))


def predict_adapter(model):
    """The sklearn estimator face permutation_importance needs, around a fitted zoo model: its
    predict, or for classifiers the expected direction P(buy) - P(sell), the number training
    trades on. Built on first use so importing this module does not import scikit-learn."""
    from sklearn.base import BaseEstimator, RegressorMixin

    class PredictAdapter(RegressorMixin, BaseEstimator):
        def __init__(self, model=None):
            self.model = model

        def fit(self, X, y=None):  # already fitted; sklearn's checks look for this method
            return self

        def __sklearn_is_fitted__(self) -> bool:
            return True

        def predict(self, X) -> np.ndarray:
            if hasattr(self.model, "predict_proba"):
                proba = np.asarray(self.model.predict_proba(X), dtype=float)
                classes = list(np.asarray(self.model.classes_))
                up = proba[:, classes.index(1)] if 1 in classes else 0.0
                down = proba[:, classes.index(-1)] if -1 in classes else 0.0
                return up - down
            return np.asarray(self.model.predict(X), dtype=float)

    return PredictAdapter(model)


def permutation(
    model,
    X,
    y,
    features: Sequence[str] | None = None,
    *,
    scoring: str = "neg_mean_squared_error",
    n_repeats: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """sklearn.inspection.permutation_importance (importances_mean) of the adapted model."""
    from sklearn.inspection import permutation_importance

    X = _matrix(X)
    result = permutation_importance(
        predict_adapter(model), X, np.asarray(y, dtype=float), scoring=scoring,
        n_repeats=n_repeats, random_state=seed,
    )
    return dict(zip(_names(features, X.shape[1]), result.importances_mean.tolist(), strict=True))


def correlation(X, y, features: Sequence[str] | None = None) -> dict[str, float]:
    """|Spearman rank correlation| of each column with y; 0 for a constant column."""
    from scipy import stats

    X, y = _matrix(X), np.asarray(y, dtype=float)
    values = []
    for column in X.T:
        if np.all(column == column[0]) or np.all(y == y[0]):
            values.append(0.0)
            continue
        rho = stats.spearmanr(column, y).statistic
        values.append(0.0 if math.isnan(rho) else abs(float(rho)))
    return dict(zip(_names(features, X.shape[1]), values, strict=True))


def variance(X, features: Sequence[str] | None = None) -> dict[str, float]:
    X = _matrix(X)
    return dict(zip(_names(features, X.shape[1]), np.var(X, axis=0, ddof=1).tolist(), strict=True))


def best_method(model=None, y=None) -> str:
    if model is not None and supports_tree_shap(model):
        return "tree_shap"
    if model is not None and y is not None:
        return "permutation"
    if y is not None:
        return "correlation"
    return "variance"


def importance_for(
    model, X, y=None, features: Sequence[str] | None = None, *, seed: int = 0
) -> tuple[str, dict[str, float]]:
    """(method, {feature: value}) by the best method available (see the module docstring)."""
    method = best_method(model, y)
    if method == "tree_shap":
        return method, tree_shap(model, X, features)
    if method == "permutation":
        return method, permutation(model, X, y, features, seed=seed)
    if method == "correlation":
        return method, correlation(X, y, features)
    return method, variance(X, features)


# ---- the methods training stores per version -------------------------------------------------


def shap_importance(model, X, features: Sequence[str]) -> dict[str, float] | None:
    """Mean |TreeSHAP contribution| per feature over the rows of X (the model's inputs): the
    booster's own TreeSHAP for the xgboost, lightgbm and catboost kinds, the shap package's
    TreeExplainer for the scikit-learn trees (decision trees, random forests), averaged over the
    classes of a classifier; None for every other kind."""
    if supports_tree_shap(model):
        return tree_shap(model, X, features)
    found = sklearn_tree(model)
    if found is None:
        return None
    contributions = sklearn_tree_shap(model, X)
    values = np.abs(contributions).mean(axis=(0, 2) if contributions.ndim == 3 else 0)
    return dict(zip(_names(features, contributions.shape[1]), values.tolist(), strict=True))


def sklearn_tree(model):
    """(the steps before it, the tree estimator) of a scikit-learn tree kind, else None."""
    final = getattr(model, "_final_step", None)
    if final is None:
        return None
    tree = final()
    if not type(tree).__module__.startswith(("sklearn.tree", "sklearn.ensemble._forest")):
        return None
    fitted = model._fitted()
    return (fitted[:-1] if hasattr(fitted, "steps") else None), tree


def sklearn_tree_shap(model, X) -> np.ndarray:
    """TreeSHAP of a scikit-learn tree kind (shap.TreeExplainer, exact for trees): (n, p), or
    (n, p, classes) for a classifier. A row plus the explainer's expected value is the tree's
    prediction (a classifier's class probabilities)."""
    import shap  # numba underneath: imported only when a tree kind's SHAP is asked for

    found = sklearn_tree(model)
    if found is None:
        raise ValueError(f"{type(model).__name__} is not a scikit-learn tree kind")
    before, tree = found
    X = _matrix(X)
    if before is not None:
        X = np.asarray(before.transform(X), dtype=float)
    explainer = shap.TreeExplainer(tree)
    return np.asarray(explainer.shap_values(X, check_additivity=False), dtype=float)


def permutation_oos(
    blocks: Sequence[tuple[Callable[[np.ndarray], np.ndarray], np.ndarray, np.ndarray]],
    features: Sequence[str],
    *,
    seed: int,
    n_repeats: int = 5,
) -> dict[str, float]:
    """Permutation importance on out-of-sample rows. `blocks` are the walk-forward folds'
    (predict, X_test, y_test), predict being that fold's own fitted preprocessing and model on the
    raw inputs. The score is the Spearman information coefficient (rank correlation of prediction
    and target), not the squared error: it is what a trading signal is judged by, it is scale-free
    (a volatile fold does not outweigh a calm one, a shrunk forecast is not penalised for its
    size) and it reads a classifier's P(buy) - P(sell) as well as a regressor's forecast.

    A feature's value is the fold's IC minus its IC with that column shuffled within the fold's
    test rows (mean of `n_repeats` shuffles, seeded by `seed`), averaged over the folds weighted
    by their rows: about 0 for a feature the model does not use, negative where shuffling
    happened to help. Rows whose target is not finite are not scored."""
    from scipy.stats import rankdata

    names = _names(features, len(features))
    rng = np.random.default_rng(seed)
    drops = np.zeros(len(names))
    rows = 0
    for predict, X, y in blocks:
        X, y = np.array(X, dtype=float), np.asarray(y, dtype=float)  # X copied: columns get shuffled
        if X.ndim != 2 or X.shape[1] != len(names):
            raise ValueError(f"a fold's X has shape {X.shape}, not (rows, {len(names)} features)")
        scored = np.isfinite(y)
        if scored.sum() < 3:
            continue
        y_ranks = rankdata(y[scored])

        def ic(X_shown: np.ndarray, scored=scored, y_ranks=y_ranks, predict=predict) -> float:
            return _rank_ic(rankdata(np.asarray(predict(X_shown), dtype=float)[scored]), y_ranks)

        base = ic(X)
        for column in range(X.shape[1]):
            original = X[:, column].copy()
            shuffled_ic = []
            for _ in range(n_repeats):
                X[:, column] = rng.permutation(original)
                shuffled_ic.append(ic(X))
            X[:, column] = original
            drops[column] += (base - float(np.mean(shuffled_ic))) * int(scored.sum())
        rows += int(scored.sum())
    values = drops / rows if rows else drops
    return dict(zip(names, values.tolist(), strict=True))


def _rank_ic(prediction_ranks: np.ndarray, y_ranks: np.ndarray) -> float:
    """Pearson correlation of two rank vectors (= Spearman); 0 when either is constant (a model
    that predicts one number ranks nothing)."""
    a = prediction_ranks - prediction_ranks.mean()
    b = y_ranks - y_ranks.mean()
    scale = math.sqrt(float(a @ a) * float(b @ b))
    return 0.0 if scale == 0 else float(a @ b) / scale

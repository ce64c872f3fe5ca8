"""Ensembles: averages, performance weights over a rolling window, optimised weights, and
stacking whose meta-learner only ever sees out-of-fold predictions."""

from __future__ import annotations

import numpy as np
import pytest

from engine.ensembles import (
    AverageEnsemble,
    OptimisedEnsemble,
    PerformanceWeightedEnsemble,
    StackingEnsemble,
    optimise_weights,
    out_of_fold_predictions,
    performance_weights,
)
from engine.metrics import rmse, sharpe_ratio, strategy_returns
from engine.models import LinearModel, LogisticModel, make_model
from engine.validation import time_series_cv


class ColumnModel:
    """Predicts one column of X as it is (no learning): lets a test choose member outputs."""

    task = "regression"

    def __init__(self, column: int = 0):
        self.column = column

    def get_params(self):
        return {"column": self.column}

    def fit(self, X, y, **_):
        return self

    def predict(self, X):
        return np.asarray(X, dtype=float)[:, self.column]


class RecordingModel:
    """A member that records the row keys (column 0) of every fit and predict call.

    memorise=True: 1-nearest-neighbour on the key alone, which reproduces every training target
    exactly (perfect in sample, worthless out of sample). memorise=False: linear on column 1.
    """

    task = "regression"
    log: list[dict] = []

    def __init__(self, memorise: bool = False):
        self.memorise = memorise

    def get_params(self):
        return {"memorise": self.memorise}

    def fit(self, X, y, **_):
        from sklearn.linear_model import LinearRegression
        from sklearn.neighbors import KNeighborsRegressor

        X = np.asarray(X, dtype=float)
        self.record_ = {"fit": X[:, 0].astype(int), "predict": []}
        RecordingModel.log.append(self.record_)
        if self.memorise:
            self.estimator_ = KNeighborsRegressor(n_neighbors=1).fit(X[:, :1], y)
        else:
            self.estimator_ = LinearRegression().fit(X[:, 1:2], y)
        return self

    def predict(self, X):
        X = np.asarray(X, dtype=float)
        self.record_["predict"].append(X[:, 0].astype(int))
        return self.estimator_.predict(X[:, :1] if self.memorise else X[:, 1:2])


def _keyed_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    X = np.column_stack([np.arange(n, dtype=float), signal])
    y = signal + 0.5 * rng.normal(size=n)
    return X, y


# ---- stacking never sees a test fold ---------------------------------------------------------


def test_stacking_meta_learner_sees_only_out_of_fold_predictions():
    X, y = _keyed_data()
    n_train = 400
    members = [RecordingModel(memorise=True), RecordingModel(memorise=False)]
    RecordingModel.log.clear()
    stack = StackingEnsemble(members, meta_learner="linear", n_splits=4, horizon=2).fit(
        X[:n_train], y[:n_train]
    )
    test_rmse = rmse(y[n_train:], stack.predict(X[n_train:]))

    # No fit ever saw a test row, and every out-of-fold copy predicted only rows after its
    # training rows plus the purge gap.
    folds = time_series_cv(n_train, n_splits=4, horizon=2)
    fold_fits = RecordingModel.log[: 2 * len(folds)]
    for record in RecordingModel.log:
        assert record["fit"].max() < n_train
    for index, record in enumerate(fold_fits):
        fold = folds[index // 2]
        assert record["fit"].max() == fold.train_end - 1
        predicted = np.concatenate(record["predict"])
        assert predicted.min() >= fold.train_end + 2
        assert predicted.max() < n_train
    np.testing.assert_array_equal(stack.oof_rows_, np.arange(folds[0].test_start, n_train))

    # The meta-learner leans on the honest member and the stack generalises like it.
    shares = stack.member_shares()
    assert shares[1] > 0.8
    honest = RecordingModel(memorise=False).fit(X[:n_train], y[:n_train])
    memoriser = RecordingModel(memorise=True).fit(X[:n_train], y[:n_train])
    assert test_rmse < 1.1 * rmse(y[n_train:], honest.predict(X[n_train:]))
    assert test_rmse < 0.8 * rmse(y[n_train:], memoriser.predict(X[n_train:]))

    # What the test guards against: fitted on in-sample predictions, the meta-learner trusts
    # the memoriser (perfect in sample) and fails out of sample.
    in_sample = np.column_stack([memoriser.predict(X[:n_train]), honest.predict(X[:n_train])])
    leaky = LinearModel().fit(in_sample, y[:n_train])
    assert leaky.feature_importances()[0] > 0.9
    leaky_test = leaky.predict(np.column_stack([memoriser.predict(X[n_train:]), honest.predict(X[n_train:])]))
    assert rmse(y[n_train:], leaky_test) > 1.2 * test_rmse


def test_stacking_classifiers_and_refit_members():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    labels = np.where(X[:, 0] + 0.3 * rng.normal(size=300) > 0, 1, -1)
    members = [LogisticModel(), make_model("decision_tree_classifier", max_depth=3, min_samples_leaf=10)]
    stack = StackingEnsemble(members, meta_learner="logistic", n_splits=3).fit(X[:200], labels[:200])
    assert all(member is not fitted for member, fitted in zip(members, stack.members_, strict=True))
    assert not hasattr(members[0], "pipeline_")  # the members passed in stay unfitted
    assert stack.classes_.tolist() == [-1, 1]
    assert np.mean(stack.predict(X[200:]) == labels[200:]) > 0.8
    with pytest.raises(ValueError, match="meta-learner 'linear' is a regression model"):
        StackingEnsemble(members, meta_learner="linear", n_splits=3).fit(X[:200], labels[:200])


def test_out_of_fold_predictions_come_from_copies_fitted_before_each_block():
    X, y = _keyed_data(120)
    rows, outputs = out_of_fold_predictions([LinearModel()], X, y, n_splits=3, horizon=1)
    fold = time_series_cv(120, n_splits=3)[1]
    expected = (
        LinearModel()
        .fit(X[: fold.train_end], y[: fold.train_end])
        .predict(X[fold.test_start : fold.test_end])
    )
    block = (rows >= fold.test_start) & (rows < fold.test_end)
    np.testing.assert_allclose(outputs[0, block], expected, rtol=1e-10)


# ---- weights ---------------------------------------------------------------------------------


def test_average_is_the_mean_forecast_and_the_soft_vote():
    X, y = _keyed_data(50)
    members = [ColumnModel(0), ColumnModel(1)]
    np.testing.assert_allclose(AverageEnsemble(members).predict(X), X.mean(axis=1))
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(80, 2))
    labels = (Z[:, 0] > 0).astype(int)
    a, b = LogisticModel().fit(Z, labels), make_model("knn_classifier", n_neighbors=5).fit(Z, labels)
    ensemble = AverageEnsemble([a, b])
    np.testing.assert_allclose(ensemble.predict_proba(Z), (a.predict_proba(Z) + b.predict_proba(Z)) / 2)
    np.testing.assert_array_equal(
        ensemble.predict(Z), ensemble.classes_[np.argmax(ensemble.predict_proba(Z), 1)]
    )


def test_performance_weights_follow_the_sharpe_and_drop_losers():
    rng = np.random.default_rng(3)
    y = rng.normal(size=60)
    good = y + 0.5 * rng.normal(size=60)
    fair = y + 2.0 * rng.normal(size=60)
    outputs = np.stack([good, fair, -y])
    weights = performance_weights(outputs, y, metric="sharpe", cost_bps=1.0, periods_per_year=252)
    sharpes = [sharpe_ratio(strategy_returns(o, y, 1.0), 252) for o in outputs[:2]]
    np.testing.assert_allclose(weights, np.array([*sharpes, 0.0]) / sum(sharpes), rtol=1e-12)
    # nobody earns: equal weights
    np.testing.assert_allclose(performance_weights(-outputs[:2], y), [0.5, 0.5])
    # inverse RMSE, and a perfect member takes all
    inverse = 1 / np.array([rmse(y, good), rmse(y, fair)])
    np.testing.assert_allclose(
        performance_weights(outputs[:2], y, metric="inverse_rmse"), inverse / inverse.sum()
    )
    np.testing.assert_allclose(performance_weights(np.stack([y, good]), y, metric="inverse_rmse"), [1.0, 0.0])


def test_performance_weights_are_rebalanced_over_a_rolling_window():
    rng = np.random.default_rng(4)
    n = 200
    y = rng.normal(size=n)
    # member 0 is right in the first half, member 1 in the second
    first = np.where(np.arange(n) < n // 2, y, -y)
    X = np.column_stack([first, -first])
    members = [ColumnModel(0), ColumnModel(1)]
    ensemble = PerformanceWeightedEnsemble(members, metric="sharpe", window=40, n_splits=3)
    ensemble.observe(X[:80], y[:80])
    np.testing.assert_allclose(ensemble.weights_, [1.0, 0.0])
    assert ensemble.history_y_.size == 40
    for start in range(80, n, 10):  # outcomes arrive ten bars at a time
        ensemble.observe(X[start : start + 10], y[start : start + 10])
    np.testing.assert_allclose(ensemble.weights_, [0.0, 1.0])
    np.testing.assert_allclose(ensemble.predict(X[-5:]), X[-5:, 1])
    # fit starts the window from out-of-fold predictions of the training rows
    fitted = PerformanceWeightedEnsemble(members, window=40, n_splits=3).fit(X[:90], y[:90])
    np.testing.assert_allclose(fitted.weights_, [1.0, 0.0])


def test_optimise_weights_finds_the_known_optimum_under_the_constraints():
    rng = np.random.default_rng(5)
    a, b, noise = rng.normal(size=(3, 500))
    y = 0.3 * a + 0.7 * b
    weights = optimise_weights(np.column_stack([a, b, noise]), y, objective="mse")
    np.testing.assert_allclose(weights, [0.3, 0.7, 0.0], atol=1e-4)
    perfect = optimise_weights(np.column_stack([noise, y, a]), y)
    np.testing.assert_allclose(perfect, [0.0, 1.0, 0.0], atol=1e-4)
    for objective in ("mse", "sharpe"):
        random = optimise_weights(rng.normal(size=(200, 4)), rng.normal(size=200), objective=objective)
        assert np.all(random >= 0) and random.sum() == pytest.approx(1.0, abs=1e-12)
    sharpe = optimise_weights(np.column_stack([y, noise]), y, objective="sharpe")
    assert sharpe[0] > 0.95
    with pytest.raises(ValueError, match="objective"):
        optimise_weights(np.column_stack([a, b]), y, objective="mae")


def test_optimised_ensemble_fits_on_out_of_fold_predictions():
    rng = np.random.default_rng(6)
    y = rng.normal(size=120)
    X = np.column_stack([y, rng.normal(size=120)])
    ensemble = OptimisedEnsemble([ColumnModel(1), ColumnModel(0)], n_splits=3).fit(X, y)
    np.testing.assert_allclose(ensemble.weights_, [0.0, 1.0], atol=1e-4)

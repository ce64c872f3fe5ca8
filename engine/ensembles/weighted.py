"""Weighted combinations of fitted members: equal weights, weights from recent performance
(re-weighted as outcomes are realised) and weights optimised with scipy.

Members are fitted zoo models (or anything with predict / predict_proba and, for the fitted
weights, get_params); these ensembles learn only the weights, never the members. Fitted
weights come from out-of-fold predictions on the training rows (see members.py), never from
predictions a member made on rows it was fitted on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from engine.ensembles.members import combine, member_outputs, out_of_fold_predictions, task_of
from engine.metrics import rmse, sharpe_ratio, strategy_returns

PERFORMANCE_METRICS = ("sharpe", "inverse_rmse", "accuracy")
OBJECTIVES = ("mse", "sharpe")


class _WeightedEnsemble:
    """predict / predict_proba as the weighted sum of the members' outputs (weights_)."""

    def __init__(self, members: Sequence):
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = list(members)

    @property
    def task(self) -> str:
        return task_of(self.members)

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.members[0].classes_)

    def _weights(self) -> np.ndarray:
        weights = getattr(self, "weights_", None)
        if weights is None:
            raise ValueError(f"{type(self).__name__} is not fitted yet; call fit first")
        return weights

    def predict(self, X) -> np.ndarray:
        if self.task == "classification":
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        return combine(member_outputs(self.members, X), self._weights())

    def predict_proba(self, X) -> np.ndarray:
        if self.task != "classification":
            raise ValueError("predict_proba needs classifier members")
        return combine(member_outputs(self.members, X), self._weights())


class AverageEnsemble(_WeightedEnsemble):
    """Equal weights: the mean forecast, or the mean of the class probabilities (soft vote)."""

    def __init__(self, members: Sequence):
        super().__init__(members)
        self.weights_ = np.full(len(self.members), 1.0 / len(self.members))

    def fit(self, X=None, y=None):
        return self


class PerformanceWeightedEnsemble(_WeightedEnsemble):
    """Weights from each member's performance over the last `window` realised outcomes.

    - metric "sharpe": the annualised Sharpe (after `cost_bps`) of trading sign(forecast) on
      the realised outcome, so y must be the realised forward return; a member with a
      negative, zero or undefined Sharpe gets weight 0.
    - metric "inverse_rmse": weight ∝ 1 / RMSE (a perfect member takes all the weight).
    - metric "accuracy" (classifiers): weight ∝ the share of correct labels.
    Weights are normalised to sum to one; when every member scores zero the weights are equal.

    `fit(X, y)` starts the window from out-of-fold predictions on the training rows (the last
    `window` of them count); `observe(X, y)` adds newly realised outcomes for rows the current
    members predict and re-weights, dropping the oldest beyond `window`.
    """

    def __init__(
        self,
        members: Sequence,
        metric: str = "sharpe",
        window: int = 50,
        cost_bps: float = 0.0,
        periods_per_year: float = 252.0,
        n_splits: int = 5,
        horizon: int = 1,
        embargo: int = 0,
    ):
        super().__init__(members)
        if metric not in PERFORMANCE_METRICS:
            raise ValueError(f"metric must be one of {', '.join(PERFORMANCE_METRICS)}, got {metric!r}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 2:
            raise ValueError(f"window must be a whole number >= 2, got {window!r}")
        self.metric = metric
        self.window = window
        self.cost_bps = cost_bps
        self.periods_per_year = periods_per_year
        self.n_splits = n_splits
        self.horizon = horizon
        self.embargo = embargo

    def fit(self, X, y):
        rows, outputs = out_of_fold_predictions(
            self.members, X, y, n_splits=self.n_splits, horizon=self.horizon, embargo=self.embargo
        )
        self.history_outputs_ = outputs[:, :0]
        self.history_y_ = np.asarray(y)[:0]
        return self.observe_outputs(outputs, np.asarray(y)[rows])

    def observe(self, X, y):
        """Record the realised outcomes `y` of rows `X` (predicted by the current members)."""
        return self.observe_outputs(member_outputs(self.members, X), y)

    def observe_outputs(self, outputs, y):
        """Record outcomes for stored member outputs ((k, n) or (k, n, c)) and re-weight."""
        outputs = np.asarray(outputs, dtype=float)
        y = np.asarray(y)
        if outputs.shape[0] != len(self.members) or outputs.shape[1] != y.shape[0]:
            raise ValueError(
                f"outputs must be shaped ({len(self.members)}, {y.shape[0]}, ...), got {outputs.shape}"
            )
        if getattr(self, "history_outputs_", None) is None:
            self.history_outputs_, self.history_y_ = outputs[:, :0], y[:0]
        self.history_outputs_ = np.concatenate([self.history_outputs_, outputs], axis=1)[:, -self.window :]
        self.history_y_ = np.concatenate([self.history_y_, y])[-self.window :]
        self.weights_ = performance_weights(
            self.history_outputs_,
            self.history_y_,
            metric=self.metric,
            cost_bps=self.cost_bps,
            periods_per_year=self.periods_per_year,
            classes=self.classes_ if self.task == "classification" else None,
        )
        return self


def performance_weights(
    outputs,
    y,
    *,
    metric: str = "sharpe",
    cost_bps: float = 0.0,
    periods_per_year: float = 252.0,
    classes=None,
) -> np.ndarray:
    """Non-negative weights summing to one from each member's score on (outputs[k], y)."""
    outputs = np.asarray(outputs, dtype=float)
    k = outputs.shape[0]
    scores = np.zeros(k)
    for member in range(k):
        if metric == "sharpe":
            value = sharpe_ratio(strategy_returns(outputs[member], y, cost_bps), periods_per_year)
        elif metric == "inverse_rmse":
            error = rmse(y, outputs[member])
            value = math.inf if error == 0 else 1.0 / error
        elif metric == "accuracy":
            if classes is None or outputs.ndim != 3:
                raise ValueError("metric 'accuracy' needs classifier members")
            value = float(np.mean(np.asarray(classes)[np.argmax(outputs[member], axis=1)] == y))
        else:
            raise ValueError(f"metric must be one of {', '.join(PERFORMANCE_METRICS)}, got {metric!r}")
        scores[member] = value if np.isfinite(value) or value == math.inf else 0.0
    scores = np.where(scores > 0, scores, 0.0)
    if np.isinf(scores).any():
        scores = np.isinf(scores).astype(float)
    total = scores.sum()
    return scores / total if total > 0 else np.full(k, 1.0 / k)


class OptimisedEnsemble(_WeightedEnsemble):
    """Weights that minimise the out-of-fold MSE (or maximise the out-of-fold Sharpe) of the
    blend, found by `optimise_weights` on out-of-fold predictions of the training rows."""

    def __init__(
        self,
        members: Sequence,
        objective: str = "mse",
        n_splits: int = 5,
        horizon: int = 1,
        embargo: int = 0,
    ):
        super().__init__(members)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
        self.objective = objective
        self.n_splits = n_splits
        self.horizon = horizon
        self.embargo = embargo

    def fit(self, X, y):
        if self.task != "regression":
            raise ValueError(
                "the optimised ensemble combines regressors; use average or stacking for classes"
            )
        rows, outputs = out_of_fold_predictions(
            self.members, X, y, n_splits=self.n_splits, horizon=self.horizon, embargo=self.embargo
        )
        self.weights_ = optimise_weights(
            outputs.T, np.asarray(y, dtype=float)[rows], objective=self.objective
        )
        return self


def optimise_weights(predictions, y, objective: str = "mse") -> np.ndarray:
    """Weights w (k,) for predictions (n, k): w >= 0, Σ w = 1, minimising the MSE of
    predictions @ w against y, or maximising the Sharpe of the returns (predictions @ w) · y
    (a position proportional to the blended forecast, y the realised return; not annualised,
    which does not move the optimum). scipy.optimize.minimize with SLSQP from equal weights.
    """
    from scipy.optimize import minimize

    predictions = np.asarray(predictions, dtype=float)
    y = np.asarray(y, dtype=float)
    if predictions.ndim != 2 or predictions.shape[0] != y.shape[0] or predictions.shape[0] < 2:
        raise ValueError(
            f"predictions must be (n >= 2, k) with n = len(y) = {y.shape[0]}, got {predictions.shape}"
        )
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    k = predictions.shape[1]
    # Scale-free objectives, so SLSQP's tolerances mean the same for returns in bps or in units.
    scale = float(np.mean(y**2)) or 1.0

    def loss(weights: np.ndarray) -> float:
        blend = predictions @ weights
        if objective == "mse":
            return float(np.mean((blend - y) ** 2) / scale)
        returns = blend * y
        spread = float(np.std(returns))
        return -float(np.mean(returns)) / (spread + 1e-12 * math.sqrt(scale) + 1e-300)

    result = minimize(
        loss,
        np.full(k, 1.0 / k),
        method="SLSQP",
        bounds=[(0.0, 1.0)] * k,
        constraints=[{"type": "eq", "fun": lambda weights: float(np.sum(weights) - 1.0)}],
        options={"ftol": 1e-12, "maxiter": 500},
    )
    if not result.success:
        raise ValueError(f"weight optimisation did not converge: {result.message}")
    weights = np.clip(result.x, 0.0, None)  # SLSQP may leave -1e-17 at a bound
    return weights / weights.sum()

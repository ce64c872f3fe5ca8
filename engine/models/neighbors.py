"""k-nearest neighbours on standardised features: "knn" (regression), "knn_classifier"."""

from __future__ import annotations

from typing import ClassVar

from engine.models.base import ModelCard
from engine.models.sklearn_base import SklearnClassifier, SklearnModel

# The search trees scikit-learn builds for euclidean neighbours (it picks one by data shape).
_NEIGHBOUR_TYPES = frozenset(
    {
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
    }
)
_WEIGHTS = ("uniform", "distance")
_KNN_REGIMES = ("recurring patterns", "range-bound", "stable regimes that repeat")
_KNN_INPUT = "tabular features, 1k to 200k rows (prediction cost grows with the training rows), < 50 features"
_KNN_FEATURES = "numeric, no NaN; scaled inside the model; irrelevant features hurt (no feature weighting)"


class _NeighboursParams:
    kind: ClassVar[str]

    def check_params(self) -> None:
        super().check_params()
        if self.weights not in _WEIGHTS:
            raise ValueError(f"{self.kind}: weights must be one of {_WEIGHTS}, got {self.weights!r}")

    def _pipeline(self, estimator_class):
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        neighbours = estimator_class(n_neighbors=self.n_neighbors, weights=self.weights)
        return make_pipeline(StandardScaler(), neighbours)


class KNNModel(_NeighboursParams, SklearnModel):
    """StandardScaler + KNeighborsRegressor (euclidean). Deterministic: `seed` is accepted so every
    kind takes the same arguments, and unused. No sample weights (the estimator has none)."""

    kind = "knn"
    card = ModelCard(
        kind="knn",
        family="baseline",
        task="regression",
        library="scikit-learn",
        purpose="nearest-neighbour analogues: the average outcome of the most similar past bars",
        ideal_input=_KNN_INPUT,
        feature_requirements=_KNN_FEATURES,
        output_schema="float: forecast of the target in its units",
        regimes=_KNN_REGIMES,
    )
    supports_sample_weight: ClassVar[bool] = False
    expected_untrusted_types: ClassVar[frozenset[str]] = _NEIGHBOUR_TYPES

    def __init__(self, n_neighbors: int = 50, weights: str = "uniform", seed: int = 42):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.seed = seed

    def _make_estimator(self):
        from sklearn.neighbors import KNeighborsRegressor

        return self._pipeline(KNeighborsRegressor)


class KNNClassifierModel(_NeighboursParams, SklearnClassifier):
    """StandardScaler + KNeighborsClassifier; P(class) is the (weighted) share of neighbours."""

    kind = "knn_classifier"
    card = ModelCard(
        kind="knn_classifier",
        family="baseline",
        task="classification",
        library="scikit-learn",
        purpose="nearest-neighbour vote on direction among the most similar past bars",
        ideal_input=_KNN_INPUT,
        feature_requirements=_KNN_FEATURES,
        output_schema="label per row; predict_proba: share of neighbours per class, classes_ order",
        regimes=_KNN_REGIMES,
    )
    supports_sample_weight: ClassVar[bool] = False
    expected_untrusted_types: ClassVar[frozenset[str]] = _NEIGHBOUR_TYPES

    def __init__(self, n_neighbors: int = 50, weights: str = "uniform", seed: int = 42):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.seed = seed

    def _make_estimator(self):
        from sklearn.neighbors import KNeighborsClassifier

        return self._pipeline(KNeighborsClassifier)

"""scikit-learn trees: a single decision tree and a random forest, for regression and
classification. Importances are the estimators' own (mean decrease in impurity)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from engine.models.base import ModelCard
from engine.models.sklearn_base import SklearnClassifier, SklearnModel
from engine.models.tabular import shares

_TREE_TYPES = frozenset({"sklearn.tree._tree.Tree"})
_TREE_FEATURES = "numeric, any scale (no scaling needed); NaN allowed (learned split direction)"
_TREE_REGIMES = ("threshold effects", "volatility regimes", "non-linear interactions")


class _TreeImportances:
    def feature_importances(self) -> np.ndarray:
        """Mean decrease in impurity per feature, as shares summing to 1."""
        return shares(self._fitted().feature_importances_)


class _SerialPrediction:
    """A forest sums its trees' predictions in whatever order its threads finish, which moves
    the last bits from call to call. Training uses `n_jobs` threads; prediction uses one, so
    the same model (fitted or loaded) always gives the same numbers."""

    def _set_fitted(self, estimator) -> None:
        estimator.set_params(n_jobs=1)
        super()._set_fitted(estimator)


def _tree_card(kind: str, task: str, purpose: str, ideal_input: str, output: str) -> ModelCard:
    return ModelCard(
        kind=kind,
        family="tree",
        task=task,
        library="scikit-learn",
        purpose=purpose,
        ideal_input=ideal_input,
        feature_requirements=_TREE_FEATURES,
        output_schema=output,
        regimes=_TREE_REGIMES,
    )


_REGRESSION_OUTPUT = "float: forecast of the target in its units"
_CLASS_OUTPUT = "label per row; predict_proba: P(class) per class, columns in classes_ order"
_TREE_INPUT = "tabular features, 500 to 1M rows"
_FOREST_INPUT = "tabular features, 1k to 1M rows, tens to hundreds of features"


class DecisionTreeModel(_TreeImportances, SklearnModel):
    """DecisionTreeRegressor, shallow by default (max_depth 4, 50 rows a leaf): readable rules."""

    kind = "decision_tree"
    card = _tree_card(
        kind,
        "regression",
        "one readable tree of if-then rules: explains, rarely wins",
        _TREE_INPUT,
        _REGRESSION_OUTPUT,
    )
    expected_untrusted_types: ClassVar[frozenset[str]] = _TREE_TYPES

    def __init__(self, max_depth: int | None = 4, min_samples_leaf: int = 50, seed: int = 42):
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.seed = seed

    def _make_estimator(self):
        from sklearn.tree import DecisionTreeRegressor

        return DecisionTreeRegressor(
            max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf, random_state=self.seed
        )


class DecisionTreeClassifierModel(_TreeImportances, SklearnClassifier):
    """DecisionTreeClassifier, shallow by default; class_weight "balanced" for rare classes."""

    kind = "decision_tree_classifier"
    card = _tree_card(
        kind, "classification", "one readable tree of if-then rules on direction", _TREE_INPUT, _CLASS_OUTPUT
    )
    expected_untrusted_types: ClassVar[frozenset[str]] = _TREE_TYPES

    def __init__(
        self,
        max_depth: int | None = 4,
        min_samples_leaf: int = 50,
        class_weight: str | None = None,
        seed: int = 42,
    ):
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.class_weight = class_weight
        self.seed = seed

    def _make_estimator(self):
        from sklearn.tree import DecisionTreeClassifier

        return DecisionTreeClassifier(
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            class_weight=self.class_weight,
            random_state=self.seed,
        )


class RandomForestModel(_SerialPrediction, _TreeImportances, SklearnModel):
    """RandomForestRegressor: bagged deep-ish trees, half the features tried at each split."""

    kind = "random_forest"
    card = _tree_card(
        kind,
        "regression",
        "bagged trees: a robust non-linear model that is hard to overfit",
        _FOREST_INPUT,
        _REGRESSION_OUTPUT,
    )
    expected_untrusted_types: ClassVar[frozenset[str]] = _TREE_TYPES

    def __init__(
        self,
        n_estimators: int = 200,
        max_depth: int | None = 8,
        min_samples_leaf: int = 20,
        max_features: float | str | None = 0.5,
        n_jobs: int = 2,
        seed: int = 42,
    ):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.n_jobs = n_jobs
        self.seed = seed

    def _make_estimator(self):
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            n_jobs=self.n_jobs,
            random_state=self.seed,
        )


class RandomForestClassifierModel(_SerialPrediction, _TreeImportances, SklearnClassifier):
    """RandomForestClassifier; P(class) is the mean of the trees' leaf class shares."""

    kind = "random_forest_classifier"
    card = _tree_card(
        kind,
        "classification",
        "bagged trees on direction, with averaged probabilities",
        _FOREST_INPUT,
        _CLASS_OUTPUT,
    )
    expected_untrusted_types: ClassVar[frozenset[str]] = _TREE_TYPES

    def __init__(
        self,
        n_estimators: int = 200,
        max_depth: int | None = 8,
        min_samples_leaf: int = 20,
        max_features: float | str | None = 0.5,
        class_weight: str | None = None,
        n_jobs: int = 2,
        seed: int = 42,
    ):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.seed = seed

    def _make_estimator(self):
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            class_weight=self.class_weight,
            n_jobs=self.n_jobs,
            random_state=self.seed,
        )

"""Linear baselines on standardised features, stored with skops (never pickle): ridge
regression ("linear") and logistic regression ("logistic")."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from engine.models.base import ModelCard
from engine.models.sklearn_base import (
    SklearnClassifier,
    SklearnModel,
    coefficient_shares,
    dump_skops,
    load_skops,
)

_LINEAR_REGIMES = ("stable linear relationships", "mean-reverting", "trending with persistent drift")


class LinearModel(SklearnModel):
    """StandardScaler + Ridge pipeline. The scaler is fitted inside `fit`, on training rows only.

    `seed` becomes Ridge's random_state (only its sag/saga solvers use it) so that every model
    kind takes the same arguments and the seed travels inside the artifact. The artifact is the
    bare pipeline (its parameters are read back from Ridge), as it was before the zoo existed.
    """

    kind = "linear"
    card = ModelCard(
        kind="linear",
        family="baseline",
        task="regression",
        library="scikit-learn",
        purpose="ridge regression baseline: the bar every other model must clear after costs",
        ideal_input="tabular features, 100 to 10M rows, more rows than features",
        feature_requirements="numeric, no NaN; scaled inside the model (StandardScaler on training rows)",
        output_schema="float: forecast of the target in its units (e.g. forward return in bps)",
        regimes=_LINEAR_REGIMES,
    )
    _fitted_attribute: ClassVar[str] = "pipeline_"
    _sample_weight_key: ClassVar[str] = "ridge__sample_weight"
    # skops refuses types outside its default trust list unless named here. A plain
    # StandardScaler + Ridge pipeline needs none; anything else in an artifact is refused.
    expected_untrusted_types: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, alpha: float = 1.0, seed: int = 42):
        self.alpha = alpha
        self.seed = seed

    def _make_estimator(self):
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), Ridge(alpha=self.alpha, random_state=self.seed))

    def feature_importances(self) -> np.ndarray:
        """|coefficient| per standardised feature, as shares summing to 1."""
        return coefficient_shares(self._final_step().coef_)

    def to_bytes(self) -> bytes:
        return dump_skops(self._fitted())

    @classmethod
    def from_bytes(cls, data: bytes) -> LinearModel:
        """Load an artifact, refusing any type that a Ridge pipeline would not contain."""
        pipeline = load_skops(data, cls.kind, cls.expected_untrusted_types)
        ridge = pipeline[-1] if hasattr(pipeline, "steps") else None
        if type(ridge).__name__ != "Ridge":
            raise ValueError(f"not a linear artifact (it holds a {type(pipeline).__name__})")
        model = cls(alpha=ridge.alpha, seed=ridge.random_state)
        model._set_fitted(pipeline)
        return model


class LogisticModel(SklearnClassifier):
    """StandardScaler + LogisticRegression (L2, lbfgs); multinomial for three classes."""

    kind = "logistic"
    card = ModelCard(
        kind="logistic",
        family="baseline",
        task="classification",
        library="scikit-learn",
        purpose="logistic regression baseline for direction (up/down or sell/hold/buy)",
        ideal_input="tabular features, 100 to 10M rows, more rows than features",
        feature_requirements="numeric, no NaN; scaled inside the model (StandardScaler on training rows)",
        output_schema="label per row; predict_proba: P(class) per class, columns in classes_ order",
        regimes=_LINEAR_REGIMES,
    )
    _sample_weight_key: ClassVar[str] = "logisticregression__sample_weight"

    def __init__(self, C: float = 1.0, class_weight: str | None = None, max_iter: int = 1000, seed: int = 42):
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.seed = seed

    def _make_estimator(self):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        classifier = LogisticRegression(
            C=self.C, class_weight=self.class_weight, max_iter=self.max_iter, random_state=self.seed
        )
        return make_pipeline(StandardScaler(), classifier)

    def feature_importances(self) -> np.ndarray:
        """|coefficient| per standardised feature (mean over classes), as shares summing to 1."""
        return coefficient_shares(self._final_step().coef_)

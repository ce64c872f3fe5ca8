"""scikit-learn estimators in the zoo: one fit / predict / persistence path, stored with skops.

skops never runs code from an artifact, but it can rebuild any importable type the artifact
names. So each kind lists the types outside skops' default trust list that its estimator
legitimately contains (`expected_untrusted_types`), and an artifact asking to trust anything
else is refused before it is loaded.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from engine.models.archives import canonical_skops
from engine.models.base import FitProgress
from engine.models.tabular import TabularClassifier, TabularModel, report, shares


def dump_skops(obj: Any) -> bytes:
    """`obj` as a skops archive, the same bytes for the same object (skops stamps its entries with
    the time of writing and its objects with their memory addresses; canonical_skops takes both
    out)."""
    import skops.io

    return canonical_skops(skops.io.dumps(obj))


def load_skops(data: bytes, kind: str, expected_untrusted_types: frozenset[str]) -> Any:
    """Load a skops artifact, trusting only `expected_untrusted_types` beyond skops' defaults."""
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(data=data)
    except Exception as error:  # a truncated or foreign file: skops raises zip / json errors
        raise ValueError(f"cannot read {kind} artifact as skops: {error}") from None
    unexpected = sorted(set(untrusted) - expected_untrusted_types)
    if unexpected:
        raise ValueError(f"refusing {kind} artifact: unexpected types {', '.join(unexpected)}")
    return skops.io.loads(data, trusted=list(untrusted))


class SklearnModel(TabularModel):
    """Base of the scikit-learn kinds. Subclasses say how to build the estimator and where
    sample weights go; validation data is checked but unused (these have no early stopping)."""

    artifact_format: ClassVar[str] = "skops"
    _fitted_attribute: ClassVar[str] = "estimator_"
    expected_untrusted_types: ClassVar[frozenset[str]] = frozenset()
    # The fit keyword that carries sample weights to the estimator inside a pipeline.
    _sample_weight_key: ClassVar[str] = "sample_weight"

    def _make_estimator(self):
        raise NotImplementedError

    def fit(
        self,
        X,
        y,
        *,
        X_val=None,
        y_val=None,
        sample_weight=None,
        progress: FitProgress | None = None,
    ):
        X, y, X_val, y_val, sample_weight = self._checked_fit_data(X, y, X_val, y_val, sample_weight)
        self._prepare_targets(y)
        report(progress, 0.0, f"fitting {self.kind}")
        estimator = self._make_estimator()
        sample_weight = self._fit_weights(y, sample_weight)
        weights = {} if sample_weight is None else {self._sample_weight_key: sample_weight}
        estimator.fit(X, y, **weights)
        self._set_fitted(estimator)
        report(progress, 1.0, f"{self.kind} fitted")
        return self

    def _prepare_targets(self, y: np.ndarray) -> None:
        """Regressors take y as it is; classifiers check their classes here."""

    def _fit_weights(self, y: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray | None:
        """The row weights the estimator receives (a kind may fold its class weights in)."""
        return sample_weight

    def _set_fitted(self, estimator) -> None:
        setattr(self, self._fitted_attribute, estimator)
        self.n_features_in_ = int(estimator.n_features_in_)

    def predict(self, X) -> np.ndarray:
        return np.asarray(self._fitted().predict(self._input(X)), dtype=float)

    def _final_step(self):
        estimator = self._fitted()
        return estimator[-1] if hasattr(estimator, "steps") else estimator

    # ---- persistence ----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        return dump_skops({"kind": self.kind, "params": self.get_params(), "estimator": self._fitted()})

    @classmethod
    def from_bytes(cls, data: bytes):
        document = load_skops(data, cls.kind, cls.expected_untrusted_types)
        if not isinstance(document, dict) or document.get("kind") != cls.kind:
            raise ValueError(f"not a {cls.kind} artifact (it holds {_describe(document)})")
        try:
            model = cls(**document["params"])
        except (KeyError, TypeError) as error:
            raise ValueError(f"{cls.kind} artifact has bad parameters: {error}") from None
        model._set_fitted(document["estimator"])
        return model

    @classmethod
    def library_versions(cls) -> dict[str, str]:
        import sklearn
        import skops

        return {"scikit-learn": sklearn.__version__, "numpy": np.__version__, "skops": skops.__version__}


class SklearnClassifier(TabularClassifier, SklearnModel):
    """A scikit-learn classifier: labels go to the estimator as they are (it sorts them too)."""

    def _prepare_targets(self, y: np.ndarray) -> None:
        self._learn_classes(y)

    def _set_fitted(self, estimator) -> None:
        super()._set_fitted(estimator)
        self.classes_ = np.asarray(estimator.classes_)

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self._fitted().predict_proba(X), dtype=float)


def coefficient_shares(coef) -> np.ndarray:
    """|coefficients| on standardised inputs, averaged over classes, as shares summing to 1."""
    coef = np.atleast_2d(np.asarray(coef, dtype=float))
    return shares(np.abs(coef).mean(axis=0))


def _describe(document) -> str:
    if isinstance(document, dict):
        return f"a document of kind {document.get('kind')!r}"
    return f"a {type(document).__name__}"

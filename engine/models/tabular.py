"""What every tabular model in the zoo shares: parameters read from `__init__`, input checks that
name the model, sample-weight and class-label handling, progress reports.

A wrapper subclasses `TabularModel` (regressors) or `TabularClassifier` (classifiers) and writes
`fit` (starting with `_checked_fit_data`), `predict` (classifiers: `_predict_proba`) and
`to_bytes` / `from_bytes`. Nothing here imports a model library, so the registry can list the
zoo without loading any of them.
"""

from __future__ import annotations

import inspect
import numbers
from typing import Any, ClassVar

import numpy as np

from engine.models.base import Determinism, FitProgress, ModelCard, ModelTags

CLASS_WEIGHTS = (None, "balanced")


class NotFittedError(ValueError, AttributeError):
    """predict / save before fit (a ValueError and an AttributeError, as in scikit-learn)."""


class TabularModel:
    """Base of the tabular regressors: fit(X, y, *, X_val, y_val, sample_weight, progress)."""

    kind: ClassVar[str]
    task: ClassVar[str] = "regression"
    artifact_format: ClassVar[str]
    card: ClassVar[ModelCard]
    # A plain batch learner: no warm start, no validation data, no epochs, no context rows.
    tags: ClassVar[ModelTags] = ModelTags()
    # False where the estimator has no notion of row weights (KNN): weights then raise.
    supports_sample_weight: ClassVar[bool] = True
    # The attribute that exists once fitted (booster_, pipeline_, ...).
    _fitted_attribute: ClassVar[str]
    # Parameters added to a kind after its first release, with their defaults: get_params lists
    # them only when changed, so manifests written before they existed stay exactly as they were.
    _quiet_defaults: ClassVar[dict[str, Any]] = {}

    # ---- parameters ----------------------------------------------------------------------

    @classmethod
    def param_names(cls) -> list[str]:
        """The parameters of __init__ (scikit-learn's get_param_names): make_model, get_params and
        the config checks all read this one list."""
        return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        signature = inspect.signature(cls.__init__).parameters
        return {name: signature[name].default for name in cls.param_names()}

    def get_params(self) -> dict[str, Any]:
        params = {name: getattr(self, name) for name in self.param_names()}
        for name, default in self._quiet_defaults.items():
            if params.get(name) == default:
                del params[name]
        return params

    def check_params(self) -> None:
        """Raise ValueError naming the parameter when a value cannot work (called by fit)."""
        params = {name: getattr(self, name) for name in self.param_names()}
        for name in ("n_estimators", "early_stopping_rounds", "n_neighbors", "max_iter"):
            if name in params:
                _require_positive_int(self.kind, name, params[name])
        if "class_weight" in params and params["class_weight"] not in CLASS_WEIGHTS:
            raise ValueError(
                f"{self.kind}: class_weight must be 'balanced' or None, got {params['class_weight']!r}"
            )

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when the model's library is installed, else what to do about it."""
        return None

    # ---- fitting helpers -------------------------------------------------------------------

    def _checked_fit_data(
        self,
        X,
        y,
        X_val=None,
        y_val=None,
        sample_weight=None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        self.check_params()
        X = self._matrix(X, "X")
        y = self._targets(y, X.shape[0], "y")
        if (X_val is None) != (y_val is None):
            raise ValueError(f"{self.kind}: pass X_val and y_val together (one of them is missing)")
        if X_val is not None:
            X_val = self._matrix(X_val, "X_val")
            if X_val.shape[1] != X.shape[1]:
                raise ValueError(f"{self.kind}: X_val has {X_val.shape[1]} features, X has {X.shape[1]}")
            y_val = self._targets(y_val, X_val.shape[0], "y_val")
        if sample_weight is not None:
            if not self.supports_sample_weight:
                raise ValueError(f"{self.kind} does not support sample weights; fit it without them")
            # Contiguous: libsvm refuses strided views (a reversed or sliced weight vector).
            sample_weight = np.ascontiguousarray(sample_weight, dtype=float)
            if sample_weight.shape != (X.shape[0],):
                raise ValueError(
                    f"{self.kind}: sample_weight must have one value per row ({X.shape[0]}), "
                    f"got shape {sample_weight.shape}"
                )
            usable = np.all(np.isfinite(sample_weight)) and np.all(sample_weight >= 0)
            if not usable or sample_weight.sum() <= 0:
                raise ValueError(f"{self.kind}: sample_weight must be finite, >= 0 and not all zero")
        return X, y, X_val, y_val, sample_weight

    def _matrix(self, X, name: str = "X") -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"{self.kind}: {name} must be a non-empty 2-D matrix, got shape {X.shape}")
        return X

    def _targets(self, y, n_rows: int, name: str) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        if y.shape != (n_rows,):
            raise ValueError(f"{self.kind}: {name} must be 1-D with {n_rows} values, got shape {y.shape}")
        return y

    def _fitted(self):
        try:
            return getattr(self, self._fitted_attribute)
        except AttributeError:
            raise NotFittedError(f"{self.kind} model is not fitted yet; call fit first") from None

    def _input(self, X) -> np.ndarray:
        """X checked against the fitted model: a matrix with the number of columns it learned."""
        self._fitted()
        X = self._matrix(X)
        expected = getattr(self, "n_features_in_", None)
        if expected is not None and X.shape[1] != expected:
            raise ValueError(f"{self.kind}: model was fitted on {expected} features, X has {X.shape[1]}")
        return X

    @property
    def context_rows(self) -> int:
        """A row's prediction reads that row alone."""
        return 0

    def determinism(self) -> Determinism:
        """The tabular kinds train on the CPU: the same data, parameters and seed give the same
        artifact bytes (tests/engine/test_engine_reproducible.py checks every kind)."""
        return Determinism.BITWISE

    # ---- what the model learned ------------------------------------------------------------

    def feature_importances(self) -> np.ndarray | None:
        """Shares of importance per input column (sum 1), or None where the model has none."""
        return None

    @classmethod
    def library_versions(cls) -> dict[str, str]:
        return {"numpy": np.__version__}


class TabularClassifier(TabularModel):
    """Base of the classifiers: labels may be any sortable values (e.g. -1 / 0 / 1 for
    sell / hold / buy); `classes_` holds them sorted and predict_proba's columns follow it."""

    task: ClassVar[str] = "classification"

    def _targets(self, y, n_rows: int, name: str) -> np.ndarray:
        y = np.asarray(y)
        if y.shape != (n_rows,):
            raise ValueError(f"{self.kind}: {name} must be 1-D with {n_rows} values, got shape {y.shape}")
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise ValueError(f"{self.kind}: {name} has NaN or infinite labels")
        return y

    def _learn_classes(self, y: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
        """Sorted labels of y (the previous model's, when warm starting); codes 0..k-1 for y."""
        classes = np.unique(y)
        if classes.size < 2:
            raise ValueError(f"{self.kind}: the training labels hold a single class {classes.tolist()}")
        if previous is not None and not np.array_equal(classes, previous):
            raise ValueError(
                f"{self.kind}: warm start needs the same classes as the previous model "
                f"({previous.tolist()}), got {classes.tolist()}"
            )
        self.classes_ = classes
        return np.searchsorted(classes, y)

    def _encode(self, y: np.ndarray, name: str) -> np.ndarray:
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(f"{self.kind}: {name} has labels not seen in training: {unknown.tolist()}")
        return np.searchsorted(self.classes_, y)

    def predict_proba(self, X) -> np.ndarray:
        """P(class) per row, one column per entry of `classes_` in that order."""
        return self._predict_proba(self._input(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class per row, as one of the original labels."""
        probabilities = self.predict_proba(X)  # first: it says so when the model is not fitted
        return self.classes_[np.argmax(probabilities, axis=1)]

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def report(progress: FitProgress | None, fraction: float, message: str, **extra) -> None:
    if progress is not None:
        progress(float(fraction), message, extra)


def shares(values) -> np.ndarray:
    """Non-negative importances rescaled to sum to 1 (all zeros stay zeros)."""
    values = np.abs(np.asarray(values, dtype=float))
    total = values.sum()
    return values / total if total > 0 else values


def _require_positive_int(kind: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{kind}: {name} must be a whole number >= 1, got {value!r}")

"""Support vector machines on standardised features: "svm" (SVR) and "svm_classifier" (SVC)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from engine.models.base import ModelCard
from engine.models.sklearn_base import SklearnClassifier, SklearnModel

_KERNELS = ("rbf", "linear", "poly", "sigmoid")
_SVM_REGIMES = ("range-bound", "noisy with non-linear structure", "moderate volatility")
_SVM_INPUT = "tabular features, 500 to 20k rows (training cost grows with rows squared), < 100 features"
_SVM_FEATURES = "numeric, no NaN; scaled inside the model (StandardScaler on training rows)"


class _KernelParams:
    kind: ClassVar[str]

    def check_params(self) -> None:
        super().check_params()
        if self.kernel not in _KERNELS:
            raise ValueError(f"{self.kind}: kernel must be one of {_KERNELS}, got {self.kernel!r}")


class SVMModel(_KernelParams, SklearnModel):
    """StandardScaler + SVR, with the target standardised too (TransformedTargetRegressor), so
    `epsilon` is in standard deviations of the target whatever its units (bps or fractions)."""

    kind = "svm"
    card = ModelCard(
        kind="svm",
        family="baseline",
        task="regression",
        library="scikit-learn",
        purpose="kernel support vector regression: smooth non-linear baseline, robust to outliers",
        ideal_input=_SVM_INPUT,
        feature_requirements=_SVM_FEATURES,
        output_schema="float: forecast of the target in its units",
        regimes=_SVM_REGIMES,
    )
    _sample_weight_key: ClassVar[str] = "svr__sample_weight"

    def __init__(
        self,
        C: float = 1.0,
        epsilon: float = 0.1,
        kernel: str = "rbf",
        gamma: str | float = "scale",
        seed: int = 42,
    ):
        self.C = C
        self.epsilon = epsilon
        self.kernel = kernel
        self.gamma = gamma
        self.seed = seed

    def _make_estimator(self):
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVR

        regressor = make_pipeline(
            StandardScaler(), SVR(C=self.C, epsilon=self.epsilon, kernel=self.kernel, gamma=self.gamma)
        )
        return TransformedTargetRegressor(regressor=regressor, transformer=StandardScaler())


class SVMClassifierModel(_KernelParams, SklearnClassifier):
    """StandardScaler + SVC, with probabilities from CalibratedClassifierCV(ensemble=False):
    one SVC on all training rows, Platt-scaled on 5-fold out-of-fold decision values (the
    route scikit-learn recommends now that SVC(probability=True) is deprecated).

    class_weight="balanced" becomes row weights that reach both the SVC and the calibration:
    given to the SVC alone, the calibration would map its probabilities straight back to the
    imbalanced base rates.
    """

    kind = "svm_classifier"
    card = ModelCard(
        kind="svm_classifier",
        family="baseline",
        task="classification",
        library="scikit-learn",
        purpose="kernel support vector classifier on direction, with calibrated probabilities",
        ideal_input=_SVM_INPUT,
        feature_requirements=_SVM_FEATURES,
        output_schema="label per row; predict_proba: Platt-calibrated P(class), classes_ order",
        regimes=_SVM_REGIMES,
    )
    _sample_weight_key: ClassVar[str] = "calibratedclassifiercv__sample_weight"
    expected_untrusted_types: ClassVar[frozenset[str]] = frozenset(
        {"sklearn.calibration._CalibratedClassifier", "sklearn.calibration._SigmoidCalibration"}
    )

    def __init__(
        self,
        C: float = 1.0,
        kernel: str = "rbf",
        gamma: str | float = "scale",
        class_weight: str | None = None,
        seed: int = 42,
    ):
        self.C = C
        self.kernel = kernel
        self.gamma = gamma
        self.class_weight = class_weight
        self.seed = seed

    def _make_estimator(self):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        svc = SVC(C=self.C, kernel=self.kernel, gamma=self.gamma, random_state=self.seed)
        return make_pipeline(StandardScaler(), CalibratedClassifierCV(svc, method="sigmoid", ensemble=False))

    def _fit_weights(self, y: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray | None:
        if self.class_weight != "balanced":
            return sample_weight
        from sklearn.utils.class_weight import compute_sample_weight

        balanced = compute_sample_weight("balanced", y)
        return balanced if sample_weight is None else sample_weight * balanced

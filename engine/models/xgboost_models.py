"""XGBoost regressor ("xgboost") and classifier ("xgboost_classifier"), stored as XGBoost's
own UBJSON (`Booster.save_raw("ubj")`).

Early stopping: with validation data, training stops after `early_stopping_rounds` rounds
without improvement of the validation loss, and the booster is cut back to its best round, so
the fitted model, its artifact and a warm start from it all use the same trees. Warm start:
`fit(..., init_model=previous)` continues boosting from `previous` (XGBoost's `xgb_model=`),
adding up to `n_estimators` more rounds. Our parameters and the class labels travel inside the
booster as a string attribute, which XGBoost saves with the model.
"""

from __future__ import annotations

import json
import numbers
from typing import Any, ClassVar

import numpy as np

from engine.models.base import FitProgress, ModelCard, ModelTags
from engine.models.tabular import TabularClassifier, TabularModel, report, shares

_ATTRIBUTE = "huracan"
_XGB_FEATURES = "numeric, any scale (no scaling needed); NaN allowed (learned default direction)"
_XGB_REGIMES = ("non-linear interactions", "volatility regimes", "threshold effects", "large feature sets")
_XGB_INPUT = "tabular features, 1k to 10M rows, up to thousands of features"


class _XGBoostBase(TabularModel):
    artifact_format: ClassVar[str] = "xgboost-ubj"
    # Boosting continues from a previous model's trees; validation data drives early stopping.
    tags: ClassVar[ModelTags] = ModelTags(supports_warm_start=True, accepts_eval_set=True)
    _fitted_attribute: ClassVar[str] = "booster_"

    def _estimator_class(self, xgboost):
        raise NotImplementedError

    def _xgboost_kwargs(self, with_validation: bool) -> dict[str, Any]:
        kwargs = dict(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            min_child_weight=self.min_child_weight,
            subsample=self.subsample,
            colsample_bytree=self.colsample_bytree,
            reg_lambda=self.reg_lambda,
            tree_method="hist",
            random_state=self.seed,
            n_jobs=self.n_jobs,
        )
        if with_validation:
            kwargs["early_stopping_rounds"] = self.early_stopping_rounds
        return kwargs

    def fit(
        self,
        X,
        y,
        *,
        X_val=None,
        y_val=None,
        sample_weight=None,
        progress: FitProgress | None = None,
        init_model: _XGBoostBase | None = None,
    ):
        """Fit on (X, y); early stopping on (X_val, y_val) when given; `init_model` continues
        boosting from a fitted model of the same kind."""
        import xgboost

        X, y, X_val, y_val, sample_weight = self._checked_fit_data(X, y, X_val, y_val, sample_weight)
        if init_model is not None and type(init_model) is not type(self):
            raise ValueError(
                f"{self.kind}: init_model must be a fitted {self.kind} model, got {type(init_model).__name__}"
            )
        # From the stored bytes, not the live booster: a booster that has trained carries its
        # random state along, and a warm start from it would not repeat from run to run.
        previous = None
        if init_model is not None:
            previous = xgboost.Booster(model_file=bytearray(init_model.to_bytes()))
        y, y_val, sample_weight, extra_kwargs = self._fit_targets(y, y_val, sample_weight, init_model)
        kwargs = {**self._xgboost_kwargs(with_validation=X_val is not None), **extra_kwargs}
        if progress is not None:
            start = 0 if previous is None else previous.num_boosted_rounds()
            kwargs["callbacks"] = [_progress_callback(xgboost, progress, self.kind, start, self.n_estimators)]
        estimator = self._estimator_class(xgboost)(**kwargs)
        fit_kwargs: dict[str, Any] = {"verbose": False}
        if sample_weight is not None:
            fit_kwargs["sample_weight"] = sample_weight
        if X_val is not None:
            fit_kwargs["eval_set"] = [(X_val, y_val)]
        report(progress, 0.0, f"fitting {self.kind}")
        estimator.fit(X, y, xgb_model=previous, **fit_kwargs)
        booster = estimator.get_booster()
        self.best_iteration_ = None
        if X_val is not None:
            # Keep the rounds up to the best one: what is used is what is stored.
            self.best_iteration_ = int(estimator.best_iteration) + 1
            booster = booster[: self.best_iteration_]
        self.booster_ = booster
        self.n_features_in_ = X.shape[1]
        self._stamp()
        report(progress, 1.0, f"{self.kind} fitted", iterations=self.n_iterations_)
        return self

    def _fit_targets(self, y, y_val, sample_weight, init_model):
        """(y, y_val, sample_weight, extra estimator kwargs) as XGBoost will see them."""
        return y, y_val, sample_weight, {}

    def _metadata(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": self.get_params(), "best_iteration": self.best_iteration_}

    def _stamp(self) -> None:
        self.booster_.set_attr(**{_ATTRIBUTE: json.dumps(self._metadata(), sort_keys=True)})

    @property
    def n_iterations_(self) -> int:
        """Boosting rounds in the model (after early stopping: up to the best one)."""
        return int(self._fitted().num_boosted_rounds())

    def _raw_scores(self, X) -> np.ndarray:
        return np.asarray(self._fitted().inplace_predict(self._input(X)), dtype=float)

    def feature_importances(self) -> np.ndarray:
        """Total split gain per feature, as shares summing to 1 (unused features: 0)."""
        booster = self._fitted()
        gains = booster.get_score(importance_type="total_gain")
        names = booster.feature_names or [f"f{index}" for index in range(booster.num_features())]
        return shares([gains.get(name, 0.0) for name in names])

    # ---- persistence ----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        return bytes(self._fitted().save_raw("ubj"))

    @classmethod
    def from_bytes(cls, data: bytes):
        import xgboost

        try:
            booster = xgboost.Booster(model_file=bytearray(data))
        except xgboost.core.XGBoostError as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
            raise ValueError(f"cannot read {cls.kind} artifact as XGBoost UBJSON: {first_line}") from None
        stamp = booster.attr(_ATTRIBUTE)
        metadata = json.loads(stamp) if stamp else {}
        if metadata.get("kind") != cls.kind:
            raise ValueError(f"not a {cls.kind} artifact (it holds a {metadata.get('kind')!r} model)")
        try:
            model = cls(**metadata["params"])
        except (KeyError, TypeError) as error:
            raise ValueError(f"{cls.kind} artifact has bad parameters: {error}") from None
        model.booster_ = booster
        model.n_features_in_ = booster.num_features()
        model.best_iteration_ = metadata.get("best_iteration")
        model._restore(metadata)
        return model

    def _restore(self, metadata: dict[str, Any]) -> None:
        """Learned state beyond the booster (the classifier's labels)."""

    @classmethod
    def library_versions(cls) -> dict[str, str]:
        import xgboost

        return {"xgboost": xgboost.__version__, "numpy": np.__version__}


class XGBoostModel(_XGBoostBase):
    """xgboost.XGBRegressor (squared error, hist trees) with small, regularised defaults."""

    kind = "xgboost"
    card = ModelCard(
        kind="xgboost",
        family="tree",
        task="regression",
        library="xgboost",
        purpose="gradient-boosted trees (depth-wise): strong tabular forecaster, GPU-capable",
        ideal_input=_XGB_INPUT,
        feature_requirements=_XGB_FEATURES,
        output_schema="float: forecast of the target in its units",
        regimes=_XGB_REGIMES,
    )

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        max_depth: int = 4,
        min_child_weight: float = 1.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 50,
        seed: int = 42,
        n_jobs: int = 2,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.seed = seed
        self.n_jobs = n_jobs

    def _estimator_class(self, xgboost):
        return xgboost.XGBRegressor

    def predict(self, X) -> np.ndarray:
        return self._raw_scores(X)


class XGBoostClassifierModel(TabularClassifier, _XGBoostBase):
    """xgboost.XGBClassifier (logistic for two classes, softprob for more).

    Class imbalance: `class_weight="balanced"` multiplies the row weights by scikit-learn's
    balanced class weights (any number of classes); `scale_pos_weight` ("auto" = negatives /
    positives, or a number) is XGBoost's own knob and applies to two classes only.
    """

    kind = "xgboost_classifier"
    card = ModelCard(
        kind="xgboost_classifier",
        family="tree",
        task="classification",
        library="xgboost",
        purpose="gradient-boosted trees on direction (up/down or sell/hold/buy)",
        ideal_input=_XGB_INPUT,
        feature_requirements=_XGB_FEATURES,
        output_schema="label per row; predict_proba: P(class) per class, columns in classes_ order",
        regimes=_XGB_REGIMES,
    )

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        max_depth: int = 4,
        min_child_weight: float = 1.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        class_weight: str | None = None,
        scale_pos_weight: str | float | None = None,
        early_stopping_rounds: int = 50,
        seed: int = 42,
        n_jobs: int = 2,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.class_weight = class_weight
        self.scale_pos_weight = scale_pos_weight
        self.early_stopping_rounds = early_stopping_rounds
        self.seed = seed
        self.n_jobs = n_jobs

    def check_params(self) -> None:
        super().check_params()
        value = self.scale_pos_weight
        number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not (value is None or value == "auto" or (number and value > 0)):
            raise ValueError(
                f"{self.kind}: scale_pos_weight must be 'auto', a number > 0 or None, got {value!r}"
            )

    def _estimator_class(self, xgboost):
        return xgboost.XGBClassifier

    def _fit_targets(self, y, y_val, sample_weight, init_model):
        codes = self._learn_classes(y, None if init_model is None else init_model.classes_)
        extra: dict[str, Any] = {}
        if self.class_weight == "balanced":
            from sklearn.utils.class_weight import compute_sample_weight

            balanced = compute_sample_weight("balanced", codes)
            sample_weight = balanced if sample_weight is None else sample_weight * balanced
        if self.scale_pos_weight is not None:
            if self.classes_.size != 2:
                raise ValueError(
                    f"{self.kind}: scale_pos_weight applies to two classes, got {self.classes_.size}; "
                    "use class_weight='balanced' instead"
                )
            if self.scale_pos_weight == "auto":
                positives = int(codes.sum())
                extra["scale_pos_weight"] = (codes.size - positives) / positives
            else:
                extra["scale_pos_weight"] = float(self.scale_pos_weight)
        return codes, None if y_val is None else self._encode(y_val, "y_val"), sample_weight, extra

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        scores = self._fitted().inplace_predict(X)
        if scores.ndim == 1:  # P(second class); 1 - p in XGBoost's float32, as its predict_proba does
            scores = np.column_stack([1.0 - scores, scores])
        return np.asarray(scores, dtype=float)

    def _metadata(self) -> dict[str, Any]:
        return {**super()._metadata(), "classes": self.classes_.tolist()}

    def _restore(self, metadata: dict[str, Any]) -> None:
        if "classes" not in metadata:
            raise ValueError(f"not a {self.kind} artifact (no class labels)")
        self.classes_ = np.asarray(metadata["classes"])


def _progress_callback(xgboost, progress: FitProgress, kind: str, start: int, n_rounds: int):
    """Reports about a hundred times per fit; `iteration` counts the model's rounds, those of a
    warm start's previous model included (as LightGBM's do)."""

    class _Progress(xgboost.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log) -> bool:
            done = epoch + 1
            if done % max(n_rounds // 100, 1) == 0 or done == n_rounds:
                extra: dict[str, Any] = {"iteration": start + done}
                for metrics in evals_log.values():
                    for values in metrics.values():
                        extra["val_loss"] = float(values[-1])
                progress(min(done / n_rounds, 1.0), f"{kind} round {start + done}", extra)
            return False  # never stop training from here

    return _Progress()

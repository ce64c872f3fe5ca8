"""LightGBM regressor ("lightgbm") and classifier ("lightgbm_classifier"), stored in LightGBM's
own text format.

Early stopping: with validation data, training stops after `early_stopping_rounds` rounds
without improvement of the validation loss and keeps the best iteration only. Warm start:
`fit(..., init_model=previous)` continues boosting from `previous`'s trees (LightGBM's
`init_model=`), adding up to `n_estimators` more.

What LightGBM's text format cannot say (the class labels, parameters such as class_weight) is
written on one extra `huracan=<json>` line in the model's header, which LightGBM's own loader
ignores: the artifact stays a model that stock LightGBM opens. The regressor writes that line
only when its parameters differ from what the text format records, so its artifacts for the
settings it had before this line existed are byte for byte what they were.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

import numpy as np

from engine.models.base import FitProgress, ModelCard, ModelTags
from engine.models.tabular import TabularClassifier, TabularModel, report, shares

# our parameter name -> the name LightGBM writes into its text model
_LIGHTGBM_NAMES = {
    "learning_rate": "learning_rate",
    "num_leaves": "num_leaves",
    "min_child_samples": "min_data_in_leaf",
    "subsample": "bagging_fraction",
    "colsample_bytree": "feature_fraction",
    "subsample_freq": "bagging_freq",
    "seed": "seed",
    "n_jobs": "num_threads",
}
_HEADER_KEY = "huracan="
# Rows up to which a prediction runs on one thread (see _raw_scores).
SMALL_BATCH = 256
_GBM_FEATURES = "numeric, any scale (no scaling needed); NaN allowed (learned default direction)"
_GBM_REGIMES = ("non-linear interactions", "volatility regimes", "threshold effects", "large feature sets")
_GBM_INPUT = "tabular features, 1k to 10M rows, up to thousands of features"


class _LightGBMBase(TabularModel):
    artifact_format: ClassVar[str] = "lightgbm-text"
    # Boosting continues from a previous model's trees; validation data drives early stopping.
    tags: ClassVar[ModelTags] = ModelTags(supports_warm_start=True, accepts_eval_set=True)
    _fitted_attribute: ClassVar[str] = "booster_"
    _quiet_defaults: ClassVar[dict[str, Any]] = {"early_stopping_rounds": 50}

    def _estimator(self, lightgbm, with_validation: bool):
        raise NotImplementedError

    def _lightgbm_kwargs(self, with_validation: bool) -> dict[str, Any]:
        kwargs = {name: getattr(self, name) for name in (*_LIGHTGBM_NAMES, "n_estimators") if name != "seed"}
        kwargs.update(
            random_state=self.seed,
            verbose=-1,
            # Same data, seed and thread count -> the same trees on every run.
            deterministic=True,
            force_row_wise=True,
        )
        if with_validation:
            kwargs["early_stopping_round"] = self.early_stopping_rounds
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
        init_model: _LightGBMBase | None = None,
    ):
        """Fit on (X, y); early stopping on (X_val, y_val) when given; `init_model` continues
        boosting from a fitted model of the same kind."""
        import lightgbm

        X, y, X_val, y_val, sample_weight = self._checked_fit_data(X, y, X_val, y_val, sample_weight)
        previous = _previous_booster(self, init_model)
        y, y_val = self._fit_targets(y, y_val, init_model)
        estimator = self._estimator(lightgbm, with_validation=X_val is not None)
        fit_kwargs: dict[str, Any] = {}
        if sample_weight is not None:
            fit_kwargs["sample_weight"] = sample_weight
        if X_val is not None:
            fit_kwargs.update(_validation_kwargs(lightgbm.__version__, X_val, y_val))
        if previous is not None:
            fit_kwargs["init_model"] = previous
        if progress is not None:
            fit_kwargs["callbacks"] = [_progress_callback(progress, self.kind)]
        report(progress, 0.0, f"fitting {self.kind}")
        estimator.fit(X, y, **fit_kwargs)
        self.booster_ = estimator.booster_
        self.n_features_in_ = X.shape[1]
        # LightGBM's best_iteration is 1-based, 0 when early stopping did not run.
        self.best_iteration_ = int(self.booster_.best_iteration) or None
        report(progress, 1.0, f"{self.kind} fitted", iterations=self.n_iterations_)
        return self

    def _fit_targets(self, y, y_val, init_model):
        return y, y_val

    @property
    def n_iterations_(self) -> int:
        """Boosting rounds in the model (after early stopping: up to the best one)."""
        return int(self._fitted().current_iteration())

    def feature_importances(self) -> np.ndarray:
        """Total split gain per feature, as shares summing to 1."""
        return shares(self._fitted().feature_importance(importance_type="gain"))

    def _raw_scores(self, X) -> np.ndarray:
        rows = self._input(X)
        # A few rows (the live loop's new bars) on one thread: waking LightGBM's OpenMP team
        # for them cost a live tick milliseconds, more than the trees (the same scores).
        threads = {"num_threads": 1} if len(rows) <= SMALL_BATCH else {}
        return np.asarray(self._fitted().predict(rows, **threads), dtype=float)

    # ---- persistence ----------------------------------------------------------------------

    def _header(self, text: str) -> dict[str, Any] | None:
        return {"kind": self.kind, "params": self.get_params(), "best_iteration": self.best_iteration_}

    def to_bytes(self) -> bytes:
        text = self._fitted().model_to_string()
        header = self._header(text)
        if header is not None:
            first_line, rest = text.split("\n", 1)
            encoded = json.dumps(header, sort_keys=True, separators=(",", ":"))
            text = f"{first_line}\n{_HEADER_KEY}{encoded}\n{rest}"
        return text.encode("utf-8")

    @classmethod
    def _read(cls, data: bytes):
        """(booster, header or None); LightGBM is handed the text without our header line."""
        import lightgbm

        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"cannot read {cls.kind} artifact: not LightGBM text") from None
        header = None
        head, separator, body = text.partition("\nTree=")
        lines = head.split("\n")
        for index, line in enumerate(lines):
            if line.startswith(_HEADER_KEY):
                try:
                    header = json.loads(line[len(_HEADER_KEY) :])
                except json.JSONDecodeError as error:
                    raise ValueError(f"cannot read {cls.kind} artifact header: {error}") from None
                del lines[index]
                break
        if header is not None and header.get("kind") != cls.kind:
            raise ValueError(f"not a {cls.kind} artifact (it holds a {header.get('kind')!r} model)")
        try:
            booster = lightgbm.Booster(model_str="\n".join(lines) + separator + body)
        except lightgbm.basic.LightGBMError as error:
            raise ValueError(f"cannot read {cls.kind} artifact as LightGBM text: {error}") from None
        return booster, header

    @classmethod
    def _loaded(cls, booster, params: dict[str, Any]):
        try:
            model = cls(**params)
        except TypeError as error:
            raise ValueError(f"{cls.kind} artifact has bad parameters: {error}") from None
        model.booster_ = booster
        model.n_features_in_ = booster.num_feature()
        model.best_iteration_ = None  # set from the header by from_bytes where it says
        return model

    @classmethod
    def library_versions(cls) -> dict[str, str]:
        import lightgbm

        return {"lightgbm": lightgbm.__version__, "numpy": np.__version__}


class LightGBMModel(_LightGBMBase):
    """lightgbm.LGBMRegressor with small, regularised defaults.

    Only the booster is kept after fitting (`booster_`), so a model loaded from bytes and a
    freshly fitted one predict through the same code path.
    """

    kind = "lightgbm"
    card = ModelCard(
        kind="lightgbm",
        family="tree",
        task="regression",
        library="lightgbm",
        purpose="gradient-boosted trees (leaf-wise): the strongest general tabular forecaster",
        ideal_input=_GBM_INPUT,
        feature_requirements=_GBM_FEATURES,
        output_schema="float: forecast of the target in its units",
        regimes=_GBM_REGIMES,
    )

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        subsample_freq: int = 1,
        seed: int = 42,
        n_jobs: int = 2,
        early_stopping_rounds: int = 50,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.subsample_freq = subsample_freq
        self.seed = seed
        self.n_jobs = n_jobs
        self.early_stopping_rounds = early_stopping_rounds

    def _estimator(self, lightgbm, with_validation: bool):
        return lightgbm.LGBMRegressor(**self._lightgbm_kwargs(with_validation))

    def predict(self, X) -> np.ndarray:
        return self._raw_scores(X)

    def _header(self, text: str) -> dict[str, Any] | None:
        import lightgbm

        # What a load would recover from the text alone (a fitted booster's .params are the
        # arguments it was trained with, not the text's parameter section, so parse the text).
        restorable = self._params_from_text(lightgbm.Booster(model_str=text)) == self.get_params()
        if restorable and self.best_iteration_ is None:
            return None  # the text format alone restores this model: write it unchanged
        return super()._header(text)

    @classmethod
    def _params_from_text(cls, booster) -> dict[str, Any]:
        """The parameters LightGBM's text format itself records, under our names."""
        loaded = booster.params or {}
        restored = {ours: loaded[theirs] for ours, theirs in _LIGHTGBM_NAMES.items() if theirs in loaded}
        if loaded.get("early_stopping_round", 0) > 0:
            restored["early_stopping_rounds"] = loaded["early_stopping_round"]
        model = cls(**restored)
        model.n_estimators = booster.num_trees()
        return model.get_params()

    @classmethod
    def from_bytes(cls, data: bytes) -> LightGBMModel:
        booster, header = cls._read(data)
        if header is None:  # plain LightGBM text, as every default fit has written it
            return cls._loaded(booster, cls._params_from_text(booster))
        model = cls._loaded(booster, header["params"])
        model.best_iteration_ = header.get("best_iteration")
        return model


class LightGBMClassifierModel(TabularClassifier, _LightGBMBase):
    """lightgbm.LGBMClassifier (binary or multiclass softmax) with the regressor's defaults;
    `class_weight="balanced"` reweights rare classes."""

    kind = "lightgbm_classifier"
    card = ModelCard(
        kind="lightgbm_classifier",
        family="tree",
        task="classification",
        library="lightgbm",
        purpose="gradient-boosted trees on direction (up/down or sell/hold/buy)",
        ideal_input=_GBM_INPUT,
        feature_requirements=_GBM_FEATURES,
        output_schema="label per row; predict_proba: P(class) per class, columns in classes_ order",
        regimes=_GBM_REGIMES,
    )
    _quiet_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        subsample_freq: int = 1,
        class_weight: str | None = None,
        early_stopping_rounds: int = 50,
        seed: int = 42,
        n_jobs: int = 2,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.subsample_freq = subsample_freq
        self.class_weight = class_weight
        self.early_stopping_rounds = early_stopping_rounds
        self.seed = seed
        self.n_jobs = n_jobs

    def _estimator(self, lightgbm, with_validation: bool):
        kwargs = self._lightgbm_kwargs(with_validation)
        return lightgbm.LGBMClassifier(**kwargs, class_weight=self.class_weight)

    def _fit_targets(self, y, y_val, init_model):
        # LightGBM sees codes 0..k-1 of our sorted classes, so the mapping is ours and stored.
        codes = self._learn_classes(y, None if init_model is None else init_model.classes_)
        return codes, None if y_val is None else self._encode(y_val, "y_val")

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        scores = np.asarray(self._fitted().predict(X), dtype=float)
        return np.column_stack([1.0 - scores, scores]) if scores.ndim == 1 else scores

    def _header(self, text: str) -> dict[str, Any]:
        return {**super()._header(text), "classes": self.classes_.tolist()}

    @classmethod
    def from_bytes(cls, data: bytes) -> LightGBMClassifierModel:
        booster, header = cls._read(data)
        if header is None or "classes" not in header:
            raise ValueError(f"not a {cls.kind} artifact (no class labels in its header)")
        model = cls._loaded(booster, header["params"])
        model.best_iteration_ = header.get("best_iteration")
        model.classes_ = np.asarray(header["classes"])
        return model


def _previous_booster(model: TabularModel, init_model):
    if init_model is None:
        return None
    if type(init_model) is not type(model):
        raise ValueError(
            f"{model.kind}: init_model must be a fitted {model.kind} model, got {type(init_model).__name__}"
        )
    return init_model._fitted()


# LightGBM 4.7 renamed eval_set to eval_X / eval_y; older 4.x only know eval_set.
_EVAL_X_SINCE = (4, 7)


def _validation_kwargs(lightgbm_version: str, X_val, y_val) -> dict[str, Any]:
    if tuple(int(number) for number in re.findall(r"\d+", lightgbm_version)[:2]) >= _EVAL_X_SINCE:
        return {"eval_X": X_val, "eval_y": y_val}
    return {"eval_set": [(X_val, y_val)]}


def _progress_callback(progress: FitProgress, kind: str):
    def callback(env) -> None:
        done = env.iteration - env.begin_iteration + 1
        total = max(env.end_iteration - env.begin_iteration, 1)
        if done % max(total // 100, 1) and done != total:
            return  # about a hundred reports per fit, however many rounds
        extra: dict[str, Any] = {"iteration": env.iteration + 1}
        if env.evaluation_result_list:
            extra["val_loss"] = float(env.evaluation_result_list[0][2])
        progress(done / total, f"{kind} round {env.iteration + 1}", extra)

    return callback

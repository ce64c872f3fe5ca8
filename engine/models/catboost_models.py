"""CatBoost regressor ("catboost") and classifier ("catboost_classifier"): an optional extra.

CatBoost is not a Huracan dependency (`pip install catboost` adds it). Without it both kinds
are listed in the zoo as unavailable, and make_model refuses them with that instruction.
Stored in CatBoost's own binary format (cbm); our parameters and class labels travel in the
model's metadata, which CatBoost saves with it. Early stopping and warm start (`init_model=`)
work as for XGBoost and LightGBM.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from engine.models.base import FitProgress, ModelCard, ModelTags
from engine.models.tabular import TabularClassifier, TabularModel, report, shares

_METADATA_KEY = "huracan"
_PER_FIT_METADATA = ("model_guid", "train_finish_time")
_CAT_FEATURES = "numeric, any scale (no scaling needed); NaN allowed (treated as the minimum)"
_CAT_REGIMES = ("non-linear interactions", "noisy small data (ordered boosting resists overfitting)")
_CAT_INPUT = "tabular features, 1k to 1M rows"


class _CatBoostBase(TabularModel):
    artifact_format: ClassVar[str] = "catboost-cbm"
    # Boosting continues from a previous model's trees; validation data drives early stopping.
    tags: ClassVar[ModelTags] = ModelTags(supports_warm_start=True, accepts_eval_set=True)
    _fitted_attribute: ClassVar[str] = "model_"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return None if importlib.util.find_spec("catboost") else "pip install catboost"

    @classmethod
    def _estimator_class(cls, catboost):
        raise NotImplementedError

    def _catboost_kwargs(self) -> dict[str, Any]:
        return dict(
            iterations=self.n_estimators,
            learning_rate=self.learning_rate,
            depth=self.depth,
            l2_leaf_reg=self.l2_leaf_reg,
            random_seed=self.seed,
            thread_count=self.n_jobs,
            verbose=False,
            allow_writing_files=False,
        )

    def fit(
        self,
        X,
        y,
        *,
        X_val=None,
        y_val=None,
        sample_weight=None,
        progress: FitProgress | None = None,
        init_model: _CatBoostBase | None = None,
    ):
        """Fit on (X, y); early stopping on (X_val, y_val) when given; `init_model` continues
        boosting from a fitted model of the same kind."""
        reason = self.unavailable_reason()
        if reason:
            raise ValueError(f"{self.kind} needs CatBoost: {reason}")
        import catboost

        X, y, X_val, y_val, sample_weight = self._checked_fit_data(X, y, X_val, y_val, sample_weight)
        if init_model is not None and type(init_model) is not type(self):
            raise ValueError(
                f"{self.kind}: init_model must be a fitted {self.kind} model, got {type(init_model).__name__}"
            )
        y, y_val = self._fit_targets(y, y_val, init_model)
        estimator = self._estimator_class(catboost)(**self._catboost_kwargs())
        fit_kwargs: dict[str, Any] = {}
        if sample_weight is not None:
            fit_kwargs["sample_weight"] = sample_weight
        if X_val is not None:
            fit_kwargs.update(
                eval_set=(X_val, y_val), early_stopping_rounds=self.early_stopping_rounds, use_best_model=True
            )
        if init_model is not None:
            fit_kwargs["init_model"] = init_model._fitted()
        report(progress, 0.0, f"fitting {self.kind}")
        estimator.fit(X, y, **fit_kwargs)
        self.model_ = estimator
        self.n_features_in_ = X.shape[1]
        # use_best_model cut the model back to its best round (0-based in CatBoost).
        self.best_iteration_ = None if X_val is None else int(estimator.get_best_iteration()) + 1
        report(progress, 1.0, f"{self.kind} fitted", iterations=self.n_iterations_)
        return self

    def _fit_targets(self, y, y_val, init_model):
        return y, y_val

    @property
    def n_iterations_(self) -> int:
        return int(self._fitted().tree_count_)

    def feature_importances(self) -> np.ndarray:
        """CatBoost's PredictionValuesChange per feature, as shares summing to 1."""
        return shares(self._fitted().get_feature_importance())

    def _metadata(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": self.get_params(), "best_iteration": self.best_iteration_}

    def to_bytes(self) -> bytes:
        model = self._fitted()
        metadata = model.get_metadata()
        metadata[_METADATA_KEY] = json.dumps(self._metadata(), sort_keys=True)
        # CatBoost stamps each fit with a random guid and the time it finished: left in, two
        # identical trainings would store different bytes. Neither is read back.
        for key in _PER_FIT_METADATA:
            if key in metadata:
                del metadata[key]
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.cbm"
            model.save_model(str(path), format="cbm")
            return path.read_bytes()

    @classmethod
    def from_bytes(cls, data: bytes):
        reason = cls.unavailable_reason()
        if reason:
            raise ValueError(f"{cls.kind} needs CatBoost: {reason}")
        import catboost

        estimator = cls._estimator_class(catboost)()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.cbm"
            path.write_bytes(data)
            try:
                estimator.load_model(str(path), format="cbm")
            except catboost.CatBoostError as error:
                raise ValueError(f"cannot read {cls.kind} artifact as CatBoost cbm: {error}") from None
        stamp = estimator.get_metadata().get(_METADATA_KEY)
        metadata = json.loads(stamp) if stamp else {}
        if metadata.get("kind") != cls.kind:
            raise ValueError(f"not a {cls.kind} artifact (it holds a {metadata.get('kind')!r} model)")
        try:
            model = cls(**metadata["params"])
        except (KeyError, TypeError) as error:
            raise ValueError(f"{cls.kind} artifact has bad parameters: {error}") from None
        model.model_ = estimator
        model.n_features_in_ = len(estimator.feature_names_)
        model.best_iteration_ = metadata.get("best_iteration")
        model._restore(metadata)
        return model

    def _restore(self, metadata: dict[str, Any]) -> None:
        """Learned state beyond the model (the classifier's labels)."""

    @classmethod
    def library_versions(cls) -> dict[str, str]:
        import catboost

        return {"catboost": catboost.__version__, "numpy": np.__version__}


class CatBoostModel(_CatBoostBase):
    """catboost.CatBoostRegressor (RMSE, symmetric trees)."""

    kind = "catboost"
    card = ModelCard(
        kind="catboost",
        family="tree",
        task="regression",
        library="catboost",
        purpose="gradient-boosted symmetric trees with ordered boosting: robust on small noisy data",
        ideal_input=_CAT_INPUT,
        feature_requirements=_CAT_FEATURES,
        output_schema="float: forecast of the target in its units",
        regimes=_CAT_REGIMES,
    )

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        depth: int = 6,
        l2_leaf_reg: float = 3.0,
        early_stopping_rounds: int = 50,
        seed: int = 42,
        n_jobs: int = 2,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.depth = depth
        self.l2_leaf_reg = l2_leaf_reg
        self.early_stopping_rounds = early_stopping_rounds
        self.seed = seed
        self.n_jobs = n_jobs

    @classmethod
    def _estimator_class(cls, catboost):
        return catboost.CatBoostRegressor

    def predict(self, X) -> np.ndarray:
        return np.asarray(self._fitted().predict(self._input(X)), dtype=float)


class CatBoostClassifierModel(TabularClassifier, _CatBoostBase):
    """catboost.CatBoostClassifier (Logloss for two classes, MultiClass for more);
    `class_weight="balanced"` is CatBoost's auto_class_weights="Balanced"."""

    kind = "catboost_classifier"
    card = ModelCard(
        kind="catboost_classifier",
        family="tree",
        task="classification",
        library="catboost",
        purpose="gradient-boosted symmetric trees on direction (up/down or sell/hold/buy)",
        ideal_input=_CAT_INPUT,
        feature_requirements=_CAT_FEATURES,
        output_schema="label per row; predict_proba: P(class) per class, columns in classes_ order",
        regimes=_CAT_REGIMES,
    )

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        depth: int = 6,
        l2_leaf_reg: float = 3.0,
        class_weight: str | None = None,
        early_stopping_rounds: int = 50,
        seed: int = 42,
        n_jobs: int = 2,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.depth = depth
        self.l2_leaf_reg = l2_leaf_reg
        self.class_weight = class_weight
        self.early_stopping_rounds = early_stopping_rounds
        self.seed = seed
        self.n_jobs = n_jobs

    @classmethod
    def _estimator_class(cls, catboost):
        return catboost.CatBoostClassifier

    def _catboost_kwargs(self) -> dict[str, Any]:
        kwargs = super()._catboost_kwargs()
        if self.class_weight == "balanced":
            kwargs["auto_class_weights"] = "Balanced"
        return kwargs

    def _fit_targets(self, y, y_val, init_model):
        # CatBoost sees codes 0..k-1 of our sorted classes, so predict_proba's columns are ours.
        codes = self._learn_classes(y, None if init_model is None else init_model.classes_)
        return codes, None if y_val is None else self._encode(y_val, "y_val")

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self._fitted().predict_proba(X), dtype=float)

    def _metadata(self) -> dict[str, Any]:
        return {**super()._metadata(), "classes": self.classes_.tolist()}

    def _restore(self, metadata: dict[str, Any]) -> None:
        if "classes" not in metadata:
            raise ValueError(f"not a {self.kind} artifact (no class labels)")
        self.classes_ = np.asarray(metadata["classes"])

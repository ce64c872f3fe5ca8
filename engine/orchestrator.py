"""The seeds' notebook API over the engine: a config in, every enabled model trained, combined and
blended with an online learner.

    orchestrator = Orchestrator.from_yaml("ml_framework.yaml")
    metrics = orchestrator.train_all_models(X_train, y_train, X_val, y_val)
    forecast = orchestrator.predict(X_new, use_ensemble=True)

Honest evaluation: preprocessing is fitted on the training rows only; ensemble weights and
stacking meta-learners on out-of-fold predictions of the training rows only; the validation rows
are used for early stopping (where a model has it) and for the metrics this returns. So the
validation metrics of a model that early-stopped on them are slightly optimistic, and the
honest figure for a final choice is a later, untouched test period.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.ml_config import MLConfig, load_ml_config, online_params, parse_ml_config


class Orchestrator:
    """Composes engine.preprocessing, the model zoo, engine.ensembles and the online blend.

    After `train_all_models`: `preprocessor_` (fitted on training rows), `models_` ({kind:
    fitted model}), `ensemble_` (None with method "none" or a single model), `online_` (the
    online learner or None), `val_metrics_` ({kind: metrics}) and `best_kind_` (best single
    model on validation: lowest RMSE for regression, highest accuracy for classification; the
    first enabled model when there is no validation data).
    """

    def __init__(self, config: MLConfig | dict[str, Any]):
        self.config = config if isinstance(config, MLConfig) else parse_ml_config(config)

    @classmethod
    def from_yaml(cls, path: str | Path) -> Orchestrator:
        return cls(load_ml_config(path))

    # ---- training ------------------------------------------------------------------------------

    def train_all_models(self, X_train, y_train, X_val=None, y_val=None) -> dict[str, dict[str, float]]:
        """Fit every enabled model (and the ensemble and online learner per config); return
        validation metrics per kind (plus "ensemble" and "blend" when built; {} without X_val)."""
        from engine.ensembles import (
            AverageEnsemble,
            OptimisedEnsemble,
            PerformanceWeightedEnsemble,
            StackingEnsemble,
        )
        from engine.models import make_model
        from engine.preprocessing import fit_preprocessor

        if (X_val is None) != (y_val is None):
            raise ValueError("pass X_val and y_val together (one of them is missing)")
        config = self.config
        X_train, y_train = _matrix(X_train, "X_train"), _targets(y_train, config.task)
        self.preprocessor_, kept = fit_preprocessor(X_train, config.preprocessing)
        X, y = self.preprocessor_.transform(X_train[kept]), y_train[kept]
        validation = {}
        if X_val is not None:
            X_v = self.preprocessor_.transform(_matrix(X_val, "X_val"))
            y_v = _targets(y_val, config.task)
            validation = {"X_val": X_v, "y_val": y_v}

        self.models_ = {}
        for kind in config.enabled_kinds():
            self.models_[kind] = make_model(kind, **config.model_params(kind)).fit(X, y, **validation)
        members = list(self.models_.values())

        settings = config.ensemble
        folds = {"n_splits": settings.n_splits, "horizon": settings.horizon, "embargo": settings.embargo}
        self.ensemble_ = None
        if settings.method != "none" and len(members) > 1:
            if settings.method == "average":
                self.ensemble_ = AverageEnsemble(members)
            elif settings.method == "performance_weighted":
                self.ensemble_ = PerformanceWeightedEnsemble(
                    members,
                    metric=settings.metric,
                    window=settings.window,
                    cost_bps=settings.cost_bps,
                    periods_per_year=settings.periods_per_year,
                    **folds,
                ).fit(X, y)
            elif settings.method == "optimised":
                self.ensemble_ = OptimisedEnsemble(members, objective=settings.objective, **folds).fit(X, y)
            else:
                # The members are already fitted on these training rows: only the out-of-fold
                # copies and the meta-learner are fitted here.
                self.ensemble_ = StackingEnsemble(
                    members,
                    meta_learner=settings.meta_learner,
                    meta_params=settings.meta_params,
                    refit_members=False,
                    **folds,
                ).fit(X, y)

        self.online_ = None
        if config.online.enabled:
            self.online_ = make_model(config.online.kind, **online_params(config)).fit(X, y)

        self.val_metrics_ = {}
        if validation:
            X_v, y_v = validation["X_val"], validation["y_val"]
            for kind, model in self.models_.items():
                self.val_metrics_[kind] = _metrics(model, X_v, y_v, config.task)
            if self.ensemble_ is not None:
                self.val_metrics_["ensemble"] = _metrics(self.ensemble_, X_v, y_v, config.task)
        self.best_kind_ = self._best_kind()
        if validation and self.online_ is not None:
            # Honest online evaluation: each validation row is predicted before it is learned,
            # so the online learner ends the call having learned the validation rows too.
            blend = self._blend()
            blended = blend.predict_then_learn(validation["X_val"], validation["y_val"])
            self.val_metrics_["blend"] = _scores(validation["y_val"], blended, config.task)
        return self.val_metrics_

    def _best_kind(self) -> str:
        kinds = list(self.models_)
        if not self.val_metrics_:
            return kinds[0]
        if self.config.task == "regression":
            return min(kinds, key=lambda kind: _or_inf(self.val_metrics_[kind]["rmse"]))
        return max(kinds, key=lambda kind: np.nan_to_num(self.val_metrics_[kind]["accuracy"], nan=-1.0))

    # ---- prediction ----------------------------------------------------------------------------

    def predict(self, X, use_ensemble: bool = True) -> np.ndarray:
        """The ensemble's output (use_ensemble and an ensemble was built), else the best single
        model by validation (`best_kind_`); blended with the online learner when it is enabled:
        (1 - online.weight) · that + online.weight · online. Nothing is learned here."""
        predictor = self._predictor(use_ensemble)
        X = self.preprocessor_.transform(_matrix(X, "X"))
        return np.asarray(predictor.predict(X))

    def predict_proba(self, X, use_ensemble: bool = True) -> np.ndarray:
        if self.config.task != "classification":
            raise ValueError("predict_proba is for task: classification")
        X = self.preprocessor_.transform(_matrix(X, "X"))
        return np.asarray(self._predictor(use_ensemble).predict_proba(X), dtype=float)

    def learn_more(self, X, y) -> Orchestrator:
        """The online learner continues with newly realised rows (batch models are unchanged)."""
        if self.online_ is None:
            raise ValueError("no online learner: set online.enabled: true in the config")
        self.online_.learn_more(self.preprocessor_.transform(_matrix(X, "X")), _targets(y, self.config.task))
        return self

    def _predictor(self, use_ensemble: bool):
        if getattr(self, "models_", None) is None:
            raise ValueError("the orchestrator is not trained yet; call train_all_models first")
        if self.online_ is not None:
            return self._blend(use_ensemble)
        return self._batch(use_ensemble)

    def _batch(self, use_ensemble: bool = True):
        if use_ensemble and self.ensemble_ is not None:
            return self.ensemble_
        return self.models_[self.best_kind_]

    def _blend(self, use_ensemble: bool = True):
        from engine.models.online import OnlineBlend

        return OnlineBlend(self._batch(use_ensemble), self.online_, weight=self.config.online.weight)


def _matrix(X, name: str) -> np.ndarray:
    X = np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X, dtype=float)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D matrix (rows x features), got shape {X.shape}")
    return X


def _targets(y, task: str) -> np.ndarray:
    y = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y).ravel()
    return y.astype(float) if task == "regression" else y


def _metrics(model, X, y, task: str) -> dict[str, float]:
    if task == "regression":
        return _scores(y, model.predict(X), task)
    return _scores(y, model.predict(X), task, model.predict_proba(X), model.classes_)


def _scores(y, predictions, task: str, proba=None, labels=None) -> dict[str, float]:
    from engine.metrics import classification_report, regression_report, signal_report

    if task == "regression":
        return {**regression_report(y, predictions), **signal_report(y, predictions)}
    if proba is not None and proba.ndim == 2 and proba.shape[1] == 2:
        proba = proba[:, 1]  # two classes: metrics take P(larger class), one number per row
    return classification_report(y, predictions, proba=proba, labels=labels)


def _or_inf(value: float) -> float:
    return value if np.isfinite(value) else float("inf")

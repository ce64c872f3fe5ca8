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

import hashlib
import json
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
        from engine.preprocessing import fit_steps

        if (X_val is None) != (y_val is None):
            raise ValueError("pass X_val and y_val together (one of them is missing)")
        config = self.config
        X_train, y_train = _matrix(X_train, "X_train"), _targets(y_train, config.task)
        # The same fit as training's, per fold there: every step on the training rows only.
        names = [f"x{index}" for index in range(X_train.shape[1])]
        self.steps_ = fit_steps(config.preprocessing_steps(), X_train, y_train, names, task=config.task,
                                seed=config.seed)
        kept = self.steps_.kept
        self.preprocessor_ = self.steps_.pipeline if self.steps_.pipeline is not None else _identity(X_train)
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

    def to_spec(self, kind: str, *, recipe: str = "core"):
        """The product's spec (engine.spec.VersionSpec) of one enabled model: the same preprocessing
        steps, params and seed, on `recipe`'s features, so `huracan train` can take over."""
        from engine.pipeline import make_spec

        if kind not in self.config.enabled_kinds():
            enabled = ", ".join(self.config.enabled_kinds())
            raise ValueError(f"{kind!r} is not an enabled model of this config ({enabled})")
        return make_spec(kind, recipe=recipe, preprocessing=self.config.preprocessing_steps(),
                         params=dict(self.config.models[kind].params), seed=self.config.seed)

    def _best_kind(self) -> str:
        kinds = list(self.models_)
        if not self.val_metrics_:
            return kinds[0]
        if self.config.task == "regression":
            return min(kinds, key=lambda kind: _or_inf(self.val_metrics_[kind]["rmse"]))
        return max(kinds, key=lambda kind: np.nan_to_num(self.val_metrics_[kind]["accuracy"], nan=-1.0))

    # ---- saving and loading --------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the trained orchestrator to the folder `path` (created if needed): every model in
        its library's own format (engine.models' to_bytes), the preprocessor as skops, the
        ensemble's weights (or its stacking meta-learner, itself a zoo model) and the online
        learner, each with its sha256 in `orchestrator.json`, which also holds the config.
        Nothing here is a pickle: every format is data only (the River learner is JSON)."""
        from engine.preprocessing import preprocessor_to_bytes

        self._predictor(True)  # not trained yet: ValueError
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        files: dict[str, dict[str, str]] = {}

        def write(name: str, data: bytes, kind: str | None = None, fmt: str | None = None) -> None:
            (folder / name).write_bytes(data)
            files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "kind": kind, "format": fmt}

        write("preprocessor.skops", preprocessor_to_bytes(self.preprocessor_), fmt="skops")
        for kind, model in self.models_.items():
            write(f"model-{kind}.bin", model.to_bytes(), kind, model.artifact_format)
        ensemble = _ensemble_document(self.ensemble_)
        if ensemble is not None and "meta_kind" in ensemble:
            meta = self.ensemble_.meta_
            write("ensemble-meta.bin", meta.to_bytes(), ensemble["meta_kind"], meta.artifact_format)
        if self.online_ is not None:
            online = self.online_
            write("online.bin", online.to_bytes(), self.config.online.kind, online.artifact_format)
        document = {
            "format": ORCHESTRATOR_FORMAT,
            "config": self.config.model_dump(mode="json"),
            "kinds": list(self.models_),
            "best_kind": self.best_kind_,
            "val_metrics": self.val_metrics_,
            "ensemble": ensemble,
            "files": files,
        }
        (folder / MANIFEST_NAME).write_text(json.dumps(document, indent=2, default=float), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, path: str | Path) -> Orchestrator:
        """The orchestrator `save` wrote to `path`; every file is checked against its sha256
        before a library reads it. ValueError naming the file when one is missing or modified."""
        from engine.models import load_model
        from engine.preprocessing import preprocessor_from_bytes

        folder = Path(path)
        manifest = folder / MANIFEST_NAME
        try:
            document = json.loads(manifest.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"{folder}: no saved orchestrator here ({MANIFEST_NAME} is missing)") from None
        except json.JSONDecodeError as error:
            raise ValueError(f"{manifest}: not valid JSON: {error.msg} (line {error.lineno})") from None
        if not isinstance(document, dict) or document.get("format") != ORCHESTRATOR_FORMAT:
            raise ValueError(f"{manifest}: not a {ORCHESTRATOR_FORMAT} manifest")
        files = document["files"]

        def verified(name: str) -> bytes:
            try:
                data = (folder / name).read_bytes()
            except FileNotFoundError:
                raise ValueError(f"{folder / name}: missing (listed in {MANIFEST_NAME})") from None
            if hashlib.sha256(data).hexdigest() != files[name]["sha256"]:
                raise ValueError(
                    f"{folder / name}: sha256 does not match {MANIFEST_NAME} (modified or corrupt)"
                )
            return data

        def model(name: str):
            return load_model(
                files[name]["kind"],
                verified(name),
                sha256=files[name]["sha256"],
                artifact_format=files[name].get("format", ""),
            )

        orchestrator = cls(document["config"])
        orchestrator.preprocessor_ = preprocessor_from_bytes(verified("preprocessor.skops"))
        orchestrator.models_ = {kind: model(f"model-{kind}.bin") for kind in document["kinds"]}
        orchestrator.ensemble_ = _ensemble_from_document(
            document["ensemble"],
            list(orchestrator.models_.values()),
            model("ensemble-meta.bin") if "ensemble-meta.bin" in files else None,
        )
        orchestrator.online_ = model("online.bin") if "online.bin" in files else None
        orchestrator.val_metrics_ = document["val_metrics"]
        orchestrator.best_kind_ = document["best_kind"]
        return orchestrator

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


ORCHESTRATOR_FORMAT = "huracan-orchestrator/1"
MANIFEST_NAME = "orchestrator.json"


def _ensemble_document(ensemble) -> dict | None:
    """What rebuilds the ensemble over the same members: its class, settings and learned weights
    (performance-weighted: also the window of outcomes it keeps re-weighting from)."""
    if ensemble is None:
        return None
    name = type(ensemble).__name__
    if name == "StackingEnsemble":
        settings = {key: getattr(ensemble, key) for key in ("meta_learner", "meta_params", "n_splits",
                                                             "horizon", "embargo")}
        return {"class": name, "settings": settings, "meta_kind": ensemble.meta_learner,
                "oof_rows": np.asarray(ensemble.oof_rows_).tolist()}
    document = {"class": name, "weights": np.asarray(ensemble.weights_, dtype=float).tolist()}
    if name == "PerformanceWeightedEnsemble":
        document["settings"] = {key: getattr(ensemble, key) for key in (
            "metric", "window", "cost_bps", "periods_per_year", "n_splits", "horizon", "embargo")}
        document["history_outputs"] = np.asarray(ensemble.history_outputs_, dtype=float).tolist()
        document["history_y"] = np.asarray(ensemble.history_y_).tolist()
    elif name == "OptimisedEnsemble":
        document["settings"] = {key: getattr(ensemble, key) for key in (
            "objective", "n_splits", "horizon", "embargo")}
    return document


def _ensemble_from_document(document: dict | None, members: list, meta):
    from engine.ensembles import (
        AverageEnsemble,
        OptimisedEnsemble,
        PerformanceWeightedEnsemble,
        StackingEnsemble,
    )

    if document is None:
        return None
    name = document["class"]
    if name == "StackingEnsemble":
        ensemble = StackingEnsemble(members, refit_members=False, **document["settings"])
        ensemble.meta_, ensemble.members_ = meta, list(members)
        ensemble.oof_rows_ = np.asarray(document["oof_rows"], dtype=int)
        return ensemble
    classes = {"AverageEnsemble": AverageEnsemble, "PerformanceWeightedEnsemble": PerformanceWeightedEnsemble,
               "OptimisedEnsemble": OptimisedEnsemble}
    if name not in classes:
        raise ValueError(f"unknown ensemble {name!r} in the saved orchestrator")
    ensemble = classes[name](members, **document.get("settings", {}))
    ensemble.weights_ = np.asarray(document["weights"], dtype=float)
    if name == "PerformanceWeightedEnsemble":
        ensemble.history_outputs_ = np.asarray(document["history_outputs"], dtype=float)
        ensemble.history_y_ = np.asarray(document["history_y"])
    return ensemble


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


def _identity(X):
    """The preprocessor of a config with no steps: a fitted pass-through (saved like any other)."""
    from sklearn.pipeline import Pipeline

    return Pipeline([("identity", "passthrough")]).fit(X)

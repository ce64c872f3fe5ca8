"""The model zoo. Every kind follows one shape (engine.models.base.Model): params in __init__,
learned state in attributes ending in _, fit(X, y, *, X_val, y_val, sample_weight, progress) /
predict / predict_proba (classifiers) / feature_importances / get_params / to_bytes /
from_bytes / library_versions, and an info card. Heavy libraries are imported inside methods,
so importing this package (and listing the zoo) stays cheap.
"""

from __future__ import annotations

import hashlib
from typing import Any

from engine.models.base import Determinism, FitProgress, Model, ModelCard, ModelTags
from engine.models.catboost_models import CatBoostClassifierModel, CatBoostModel
from engine.models.gbm import LightGBMClassifierModel, LightGBMModel
from engine.models.linear import LinearModel, LogisticModel
from engine.models.neighbors import KNNClassifierModel, KNNModel
from engine.models.online import RiverLinearModel, RiverLogisticModel
from engine.models.svm import SVMClassifierModel, SVMModel
from engine.models.tabular import NotFittedError
from engine.models.trees import (
    DecisionTreeClassifierModel,
    DecisionTreeModel,
    RandomForestClassifierModel,
    RandomForestModel,
)
from engine.models.xgboost_models import XGBoostClassifierModel, XGBoostModel

__all__ = [
    "MODEL_CLASSES",
    "MODEL_KINDS",
    "NEURAL_MODEL_CLASSES",
    "RL_MODEL_CLASSES",
    "TABULAR_MODEL_CLASSES",
    "CatBoostClassifierModel",
    "CatBoostModel",
    "DecisionTreeClassifierModel",
    "DecisionTreeModel",
    "Determinism",
    "FitProgress",
    "KNNClassifierModel",
    "KNNModel",
    "LightGBMClassifierModel",
    "LightGBMModel",
    "LinearModel",
    "LogisticModel",
    "Model",
    "ModelCard",
    "ModelTags",
    "NotFittedError",
    "ONLINE_MODEL_CLASSES",
    "RandomForestClassifierModel",
    "RandomForestModel",
    "RiverLinearModel",
    "RiverLogisticModel",
    "SVMClassifierModel",
    "SVMModel",
    "XGBoostClassifierModel",
    "XGBoostModel",
    "load_model",
    "make_model",
    "model_class",
    "model_tags",
    "zoo",
]

TABULAR_MODEL_CLASSES: dict[str, type] = {
    cls.kind: cls
    for cls in (
        LinearModel,
        KNNModel,
        SVMModel,
        DecisionTreeModel,
        RandomForestModel,
        XGBoostModel,
        LightGBMModel,
        CatBoostModel,
        LogisticModel,
        KNNClassifierModel,
        SVMClassifierModel,
        DecisionTreeClassifierModel,
        RandomForestClassifierModel,
        XGBoostClassifierModel,
        LightGBMClassifierModel,
        CatBoostClassifierModel,
    )
}

# Online learners (River): fit learns row by row; learn_more continues.
ONLINE_MODEL_CLASSES: dict[str, type] = {cls.kind: cls for cls in (RiverLinearModel, RiverLogisticModel)}

# Imported last, so that a neural module importing engine.models.base finds this package ready.
# The neural package imports no torch at import time; while it is absent or being written the
# zoo is the tabular kinds alone.
try:
    from engine.models.neural import NEURAL_MODEL_CLASSES
except ImportError:
    NEURAL_MODEL_CLASSES: dict[str, type] = {}

# Reinforcement-learning agents (stable-baselines3 over engine.rl's environments); like the
# neural package, importing them imports no torch, gymnasium or stable-baselines3.
try:
    from engine.models.rl_kinds import RL_MODEL_CLASSES
except ImportError:
    RL_MODEL_CLASSES: dict[str, type] = {}

# Every kind make_model / load_model / zoo know, by its public id (configs, CLI, manifests).
MODEL_CLASSES: dict[str, type] = {
    **TABULAR_MODEL_CLASSES, **NEURAL_MODEL_CLASSES, **ONLINE_MODEL_CLASSES, **RL_MODEL_CLASSES
}

# The kinds train_model is wired and tested for (continuous targets, the walk-forward slice);
# the rest of the zoo joins it as the training pipeline learns classification targets.
MODEL_KINDS: dict[str, type] = {"linear": LinearModel, "lightgbm": LightGBMModel}

_FAMILY_ORDER = ("baseline", "tree", "neural", "online", "reinforcement", "ensemble")

# Formats a kind once wrote and no longer loads, because they can run code: versions stored in
# them are refused with a message to retrain them.
_RETIRED_FORMATS: dict[str, tuple[str, ...]] = {kind: ("pickle",) for kind in ONLINE_MODEL_CLASSES}


def model_class(kind: str) -> type:
    """The class of `kind`; ValueError naming the known kinds otherwise."""
    if kind not in MODEL_CLASSES:
        raise ValueError(f"unknown model kind {kind!r}; known kinds: {', '.join(MODEL_CLASSES)}")
    return MODEL_CLASSES[kind]


def model_tags(kind: str) -> ModelTags:
    """What `kind` can do (warm start, validation data, epochs, context rows), as its class declares."""
    return model_class(kind).tags


def make_model(kind: str, **params):
    """A fresh, unfitted model of `kind`; unknown kinds, unknown or unusable parameters and
    kinds whose library is not installed raise ValueError."""
    cls = model_class(kind)
    reason = _unavailable_reason(cls)
    if reason:
        raise ValueError(f"model kind {kind!r} is not available: {reason}")
    try:
        model = cls(**params)
    except TypeError as error:
        raise ValueError(f"bad parameters for {kind!r} model: {error}") from None
    check = getattr(model, "check_params", None)
    if check is not None:
        check()
    return model


def load_model(kind: str, data: bytes, *, sha256: str | None = None, artifact_format: str | None = None):
    """The model stored in `data`. Before any library reads the bytes: with `artifact_format`
    (the format the version's manifest declares) anything but the one format `kind` writes is
    refused, and with `sha256` (from the manifest) modified bytes are refused; both ValueError.
    No kind's format can run code (no pickle: skops with trusted types, the boosters' own
    formats, torch weights only, River as JSON), so the check is also what turns an old or
    foreign artifact away with a message rather than a parser's error."""
    cls = model_class(kind)
    if artifact_format is not None and artifact_format != cls.artifact_format:
        retrain = "; retrain this version" if artifact_format in _RETIRED_FORMATS.get(kind, ()) else ""
        raise ValueError(
            f"refusing {kind} artifact: its declared format {artifact_format!r} is not "
            f"{cls.artifact_format!r}, the only one {kind} loads{retrain}"
        )
    if sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256.lower():
            raise ValueError(
                f"refusing {kind} artifact: sha256 {actual[:12]}… does not match the manifest's "
                f"{sha256[:12]}… (modified or corrupt)"
            )
    return cls.from_bytes(data)


def zoo() -> list[dict[str, Any]]:
    """One entry per kind: its card fields, task, library, whether it can run here (and why
    not), its artifact format and its default parameters. Plain JSON-ready values."""
    entries = [_zoo_entry(kind, cls) for kind, cls in MODEL_CLASSES.items()]
    family_rank = {family: index for index, family in enumerate(_FAMILY_ORDER)}
    # Stable sort: within a family and task, kinds keep the registry's order (simplest first).

    def rank(entry: dict[str, Any]) -> tuple[int, bool]:
        return family_rank.get(entry["family"], len(family_rank)), entry["task"] != "regression"

    return sorted(entries, key=rank)


def _zoo_entry(kind: str, cls: type) -> dict[str, Any]:
    card = getattr(cls, "card", None)
    fields = card.to_dict() if isinstance(card, ModelCard) else {"family": None, "library": None}
    reason = _unavailable_reason(cls)
    return {
        **fields,
        "kind": kind,
        "task": getattr(cls, "task", fields.get("task")),
        "family": fields.get("family"),
        "available": reason is None,
        "reason": reason,
        "artifact_format": getattr(cls, "artifact_format", None),
        "default_params": _default_params(cls),
    }


def _unavailable_reason(cls: type) -> str | None:
    check = getattr(cls, "unavailable_reason", None)
    return check() if check is not None else None


def _default_params(cls: type) -> dict[str, Any]:
    return cls.default_params()

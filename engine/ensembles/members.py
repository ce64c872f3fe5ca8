"""What every ensemble needs from its members: their outputs stacked, fresh unfitted copies,
and out-of-fold predictions on the training rows (purged forward-chaining CV)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.validation import time_series_cv


def task_of(members: Sequence) -> str:
    tasks = {getattr(member, "task", "regression") for member in members}
    if len(tasks) != 1:
        raise ValueError(f"ensemble members mix tasks: {sorted(tasks)}")
    return tasks.pop()


def member_outputs(members: Sequence, X) -> np.ndarray:
    """(k, n) forecasts for regressors; (k, n, c) class probabilities for classifiers (all
    members must share classes_, so that the columns mean the same class)."""
    if not members:
        raise ValueError("an ensemble needs at least one member")
    if task_of(members) == "classification":
        _shared_classes(members)
        return np.stack([np.asarray(member.predict_proba(X), dtype=float) for member in members])
    return np.stack([np.asarray(member.predict(X), dtype=float).ravel() for member in members])


def clone_model(model):
    """An unfitted copy with the same parameters (scikit-learn's clone, for our wrappers)."""
    return type(model)(**model.get_params())


def out_of_fold_predictions(
    members: Sequence, X, y, *, n_splits: int = 5, horizon: int = 1, embargo: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Each member's predictions on the training rows it was not fitted on.

    Folds come from engine.validation.time_series_cv (purged by `horizon`, embargoed): for each
    fold a fresh copy of every member is fitted on the fold's training rows only and predicts
    its validation block. Returns (rows, outputs): the row positions that got a prediction (the
    validation blocks, in time order) and the outputs there, shaped as `member_outputs`. The
    members passed in are never fitted here.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    folds = time_series_cv(X.shape[0], n_splits=n_splits, horizon=horizon, embargo=embargo)
    rows, blocks = [], []
    for fold in folds:
        train = slice(fold.train_start, fold.train_end)
        test = np.arange(fold.test_start, fold.test_end)
        copies = [clone_model(member).fit(X[train], y[train]) for member in members]
        blocks.append(member_outputs(copies, X[test]))
        rows.append(test)
    return np.concatenate(rows), np.concatenate(blocks, axis=1)


def combine(outputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Σ_k weights[k] · outputs[k] (forecasts or class probabilities)."""
    return np.tensordot(np.asarray(weights, dtype=float), outputs, axes=1)


def _shared_classes(members: Sequence) -> np.ndarray:
    first = np.asarray(members[0].classes_)
    for member in members[1:]:
        if not np.array_equal(np.asarray(member.classes_), first):
            raise ValueError("ensemble classifiers must share the same classes_")
    return first

"""Stacking: a meta-learner that combines the members' forecasts, fitted on out-of-fold
predictions only.

Why out of fold: a member predicting rows it was fitted on looks better than it is (a 1-nearest
-neighbour memoriser is perfect in sample), and a meta-learner fitted on such predictions would
trust it blindly. So the meta-learner sees only predictions that each member made on a purged
validation block after being fitted on the rows before it (engine.validation.time_series_cv on
the training rows); the members are then refitted on all training rows to predict new data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.ensembles.members import clone_model, member_outputs, out_of_fold_predictions, task_of


class StackingEnsemble:
    """Members (zoo models) + a meta-learner (a zoo kind: "linear" ridge, "logistic", ...).

    fit(X, y): out-of-fold member predictions on (X, y) → meta-learner fitted on them alone →
    members refitted on all of (X, y) (with refit_members=False the members passed in are used
    as they are: they must already be fitted on these same training rows, never on later ones).
    Classifier members feed their class probabilities to the meta-learner (k · classes inputs).
    """

    def __init__(
        self,
        members: Sequence,
        meta_learner: str = "linear",
        meta_params: dict[str, Any] | None = None,
        n_splits: int = 5,
        horizon: int = 1,
        embargo: int = 0,
        refit_members: bool = True,
    ):
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = list(members)
        self.meta_learner = meta_learner
        self.meta_params = dict(meta_params or {})
        self.n_splits = n_splits
        self.horizon = horizon
        self.embargo = embargo
        self.refit_members = refit_members

    @property
    def task(self) -> str:
        return task_of(self.members)

    def fit(self, X, y):
        from engine.models import make_model

        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        rows, outputs = out_of_fold_predictions(
            self.members, X, y, n_splits=self.n_splits, horizon=self.horizon, embargo=self.embargo
        )
        meta = make_model(self.meta_learner, **self.meta_params)
        if getattr(meta, "task", "regression") != self.task:
            raise ValueError(
                f"meta-learner {self.meta_learner!r} is a {meta.task} model; members are {self.task}"
            )
        self.meta_ = meta.fit(_meta_inputs(outputs), y[rows])
        self.oof_rows_ = rows
        if self.refit_members:
            self.members_ = [clone_model(member).fit(X, y) for member in self.members]
        else:
            self.members_ = list(self.members)
        return self

    def _fitted(self):
        if getattr(self, "meta_", None) is None:
            raise ValueError("StackingEnsemble is not fitted yet; call fit first")
        return self.meta_

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self._fitted().classes_)

    def meta_inputs(self, X) -> np.ndarray:
        self._fitted()
        return _meta_inputs(member_outputs(self.members_, X))

    def predict(self, X) -> np.ndarray:
        return np.asarray(self._fitted().predict(self.meta_inputs(X)))

    def predict_proba(self, X) -> np.ndarray:
        return np.asarray(self._fitted().predict_proba(self.meta_inputs(X)), dtype=float)

    def member_shares(self) -> np.ndarray | None:
        """How much the meta-learner leans on each input (its feature importances), or None."""
        return self._fitted().feature_importances()


def _meta_inputs(outputs: np.ndarray) -> np.ndarray:
    """(k, n) → (n, k); (k, n, c) → (n, k · c)."""
    if outputs.ndim == 2:
        return outputs.T
    return np.transpose(outputs, (1, 0, 2)).reshape(outputs.shape[1], -1)

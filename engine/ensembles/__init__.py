"""Ensembles of fitted zoo models: a simple average, performance-weighted voting re-weighted over
a rolling window of realised outcomes, weights optimised with scipy (non-negative, summing to
one) and stacking with a meta-learner fitted on out-of-fold predictions only.

Honest evaluation: every weight and meta-learner here is learned from predictions that the
members made on rows they were not fitted on (`out_of_fold_predictions`, purged time-series CV
on the training rows), or from outcomes realised after the prediction was made.
"""

from __future__ import annotations

from engine.ensembles.members import clone_model, member_outputs, out_of_fold_predictions
from engine.ensembles.stacking import StackingEnsemble
from engine.ensembles.weighted import (
    AverageEnsemble,
    OptimisedEnsemble,
    PerformanceWeightedEnsemble,
    optimise_weights,
    performance_weights,
)

__all__ = [
    "AverageEnsemble",
    "OptimisedEnsemble",
    "PerformanceWeightedEnsemble",
    "StackingEnsemble",
    "clone_model",
    "member_outputs",
    "optimise_weights",
    "out_of_fold_predictions",
    "performance_weights",
]

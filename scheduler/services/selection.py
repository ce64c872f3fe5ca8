"""Automatic feature selection for the next retrain (seed 002): the configured policy
(`training.selection: {method, top_k}`) keeps the recipe columns that ranked highest by that
importance method in the slot's champion, else its newest version that has the method. The choice
becomes the new version's spec (`features.columns`), so it is recorded, hashed and shown.

Ranks are only as honest as the method: native ranks come from the final refit on every row, and
permutation ranks from the out-of-sample folds, which is why the policy names its method."""

from __future__ import annotations

from collections.abc import Sequence

from brain import Brain
from scheduler.config import SelectionPolicy


def selected_columns(
    brain: Brain, slot_key: str, policy: SelectionPolicy, available: Sequence[str]
) -> tuple[str, ...] | None:
    """The `policy.top_k` columns of `available` (the recipe's, in recipe order) that ranked best
    by `policy.method`; None while no version of the slot has that method's ranks (the slot's
    first training keeps every column). Columns the ranks do not know (a recipe that grew, or a
    version whose inputs were principal components) rank after every known one, in recipe order."""
    version = _ranked_version(brain, slot_key, policy.method)
    if version is None:
        return None
    ranks = {row["feature"]: row["rank"] for row in brain.feature_importance(version.id, policy.method)}
    known = [name for name in available if name in ranks]
    if not known:
        return None
    order = sorted(available, key=lambda name: (ranks.get(name, len(ranks) + 1), list(available).index(name)))
    kept = set(order[: policy.top_k])
    return tuple(name for name in available if name in kept)


def _ranked_version(brain: Brain, slot_key: str, method: str):
    champion = brain.champion(slot_key)
    if champion is not None and brain.feature_importance(champion.id, method):
        return champion
    for version in reversed(brain.list_versions(slot_key)):
        if version.status != "pruned" and brain.feature_importance(version.id, method):
            return version
    return None

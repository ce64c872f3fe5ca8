"""The core recipe (core.yaml) as the default feature set: `FEATURES`, `feature_columns()`,
`add_features(frame)`. Its numbers are part of every stored model that was trained before specs
named a recipe; the core recipe gives them bit for bit (a test keeps the old formulas to check)."""

from __future__ import annotations

import polars as pl

from engine.features.compute import compute_features
from engine.features.recipe import FeatureRecipe, resolve_recipe


def core_recipe() -> FeatureRecipe:
    return resolve_recipe("core")[1]


FEATURES: list[str] = core_recipe().columns()


def feature_columns() -> list[str]:
    """Names of the columns that add_features adds, in a stable order."""
    return list(FEATURES)


def add_features(frame: pl.DataFrame) -> pl.DataFrame:
    """Return `frame` with the core recipe's columns added (all existing columns kept)."""
    return compute_features(frame, core_recipe())

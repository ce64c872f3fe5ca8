"""Causal features: the value at bar t uses bars up to and including t, never later ones.

One feature system: recipes. A YAML file lists indicators and their parameters; `resolve_recipe`
gives a bundled one by name (`core`: the 8 columns every version is trained on by default,
`full`: every indicator, default_recipe.yaml) or reads a file (`load_recipe`);
`compute_features(frame, recipe)` adds its columns and `recipe.columns()` names them. The
indicators (engine.features.indicators, polars expressions) equal TA-Lib's functions; specs.py
says which parameters each entry takes. `add_features(frame)` / `FEATURES` are the core recipe.

A version's inputs (its recipe, then its alternative data) come from
engine.pipeline.version_features; the live loop computes a recipe over a tail window
(engine.features.tail). In a frame holding several symbols no window reaches from one symbol into
another (compute.py explains how).
"""

from __future__ import annotations

from engine.features.compute import compute_features
from engine.features.core import FEATURES, add_features, core_recipe, feature_columns
from engine.features.recipe import (
    BUNDLED_RECIPES,
    DEFAULT_RECIPE_PATH,
    FeatureRecipe,
    RecipeError,
    load_recipe,
    parse_recipe,
    resolve_recipe,
)

__all__ = [
    "BUNDLED_RECIPES",
    "DEFAULT_RECIPE_PATH",
    "FEATURES",
    "FeatureRecipe",
    "RecipeError",
    "add_features",
    "compute_features",
    "core_recipe",
    "feature_columns",
    "load_recipe",
    "parse_recipe",
    "resolve_recipe",
]

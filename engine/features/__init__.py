"""Causal features: the value at bar t uses bars up to and including t, never later ones.

Two ways in:

- the fixed set that training uses: `FEATURES`, `add_features(frame)`, `feature_columns()`;
- recipes: a YAML file lists indicators and their parameters (`load_recipe(path)`, the packaged
  default_recipe.yaml when no path is given), `compute_features(frame, recipe)` adds their
  columns and `recipe.columns()` names them. The indicators (engine.features.indicators, polars
  expressions) equal TA-Lib's functions; specs.py says which parameters each entry takes.

Both compute per symbol: in a frame holding several symbols no window reaches from one symbol
into another (the fixed set through `.over("symbol")`, recipes as compute.py explains).
"""

from __future__ import annotations

from engine.features.compute import compute_features
from engine.features.recipe import DEFAULT_RECIPE_PATH, FeatureRecipe, RecipeError, load_recipe, parse_recipe
from engine.features.training_set import FEATURES, RSI_PERIOD, add_features, feature_columns, wilder_rsi

__all__ = [
    "DEFAULT_RECIPE_PATH",
    "FEATURES",
    "RSI_PERIOD",
    "FeatureRecipe",
    "RecipeError",
    "add_features",
    "compute_features",
    "feature_columns",
    "load_recipe",
    "parse_recipe",
    "wilder_rsi",
]

"""Feature recipes: which indicators to compute, with which parameters, as validated YAML.

    description: what this recipe is for (optional)
    features:
      - {indicator: rsi, periods: [14]}
      - {indicator: macd, fast: 12, slow: 26, signal: 9}
      - {indicator: lags, columns: [log_ret_1], lags: [1, 2]}

Every problem is one RecipeError line naming the file and the key
(`my.yaml: features[1].fast: fast (30) must be below slow (26)`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Any, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine.features.specs import INDICATORS, OHLCV, SPECS

DEFAULT_RECIPE_PATH = Path(__file__).with_name("default_recipe.yaml")
CORE_RECIPE_PATH = Path(__file__).with_name("core.yaml")
# The bundled recipes by name: core (the default of every version) and full (every indicator).
BUNDLED_RECIPES = {"core": CORE_RECIPE_PATH, "full": DEFAULT_RECIPE_PATH}

_AnySpec = Annotated[Union[SPECS], Field(discriminator="indicator")]  # noqa: UP007 (a tuple of types)


class RecipeError(ValueError):
    """A recipe problem, worded as one line that names the file and the key."""


class FeatureRecipe(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str | None = None
    features: list[_AnySpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _columns_are_unique_and_sources_exist(self):
        made_by: dict[str, int] = {}
        for index, spec in enumerate(self.features):
            for name in spec.columns():
                if name in made_by or name in ("ts", "symbol", *OHLCV):
                    where = f"features[{made_by[name]}]" if name in made_by else "the OHLCV data"
                    raise ValueError(f"features[{index}]: column {name!r} is already made by {where}")
                made_by[name] = index
        readable = set(OHLCV) | {
            name for spec in self.features if not spec.derived for name in spec.columns()
        }
        for index, spec in enumerate(self.features):
            unknown = [name for name in spec.sources() if name not in readable]
            if unknown:
                raise ValueError(
                    f"features[{index}].columns: unknown column {unknown[0]!r} (an OHLCV column or "
                    "a column of a non-derived entry of this recipe)"
                )
        return self

    def columns(self) -> list[str]:
        """Every column the recipe makes, in recipe order."""
        return [name for spec in self.features for name in spec.columns()]


def load_recipe(path: str | Path | None = None) -> FeatureRecipe:
    """Read and validate a YAML recipe; None gives the packaged default (every indicator)."""
    path = Path(path) if path is not None else DEFAULT_RECIPE_PATH
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecipeError(f"{path}: recipe file not found") from None
    except IsADirectoryError:
        raise RecipeError(f"{path}: is a folder, not a recipe file") from None
    except OSError as error:
        raise RecipeError(f"{path}: cannot read recipe: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise RecipeError(f"{path}: not a text file") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise RecipeError(f"{path}: invalid YAML{where}: {problem}") from None
    return parse_recipe(raw, source=str(path))


def resolve_recipe(name: str) -> tuple[str, FeatureRecipe]:
    """(its label, the recipe) for a bundled recipe's name (core, full) or a YAML file's path."""
    if name in BUNDLED_RECIPES:
        return name, _bundled(name)
    return name, load_recipe(name)


@cache
def _bundled(name: str) -> FeatureRecipe:
    return load_recipe(BUNDLED_RECIPES[name])  # frozen: safe to share


def parse_recipe(raw: Any, source: str = "recipe") -> FeatureRecipe:
    """Validate an already-parsed recipe document; `source` names it in error messages."""
    if raw is None:
        raise RecipeError(f"{source}: empty recipe (expected a `features:` list)")
    if not isinstance(raw, dict):
        raise RecipeError(f"{source}: the top level must be a mapping of keys, not {type(raw).__name__}")
    _check_indicator_keys(raw.get("features"), source)
    try:
        return FeatureRecipe.model_validate(raw)
    except ValidationError as error:
        raise RecipeError(f"{source}: {_describe(error)}") from None


def _check_indicator_keys(entries: Any, source: str) -> None:
    # Checked before pydantic, whose messages for a bad discriminator are hard to read.
    if not isinstance(entries, list):
        return  # pydantic words a missing or non-list `features`
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise RecipeError(
                f"{source}: features[{index}]: expected a mapping such as {{indicator: rsi}}, "
                f"got {type(entry).__name__}"
            )
        if "indicator" not in entry:
            raise RecipeError(f"{source}: features[{index}]: missing key 'indicator'")
        if entry["indicator"] not in INDICATORS:
            raise RecipeError(
                f"{source}: features[{index}].indicator: unknown indicator {entry['indicator']!r} "
                f"(known: {', '.join(INDICATORS)})"
            )


def _describe(error: ValidationError) -> str:
    # An unknown key first: a misspelt key also shows up as the real key missing.
    first = min(error.errors(), key=lambda problem: problem["type"] != "extra_forbidden")
    location = list(first["loc"])
    if len(location) >= 3 and location[0] == "features" and isinstance(location[1], int):
        del location[2]  # pydantic adds the entry's indicator (the union tag) to the path
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location).lstrip(".")
    message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    message = message.removeprefix("Value error, ")
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{key}: {message}{suffix}" if key else f"{message}{suffix}"

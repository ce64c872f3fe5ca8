"""Apply a recipe to a canonical OHLCV frame (one symbol or many)."""

from __future__ import annotations

import numpy as np
import polars as pl

from engine.features.recipe import FeatureRecipe, load_recipe
from engine.features.specs import OHLCV, SYMBOL_ROW, FeatureSpec

REQUIRED_COLUMNS = ("ts", "symbol", *OHLCV)


def compute_features(frame: pl.DataFrame, recipe: FeatureRecipe | None = None) -> pl.DataFrame:
    """Return `frame` with every column of `recipe` (default: the packaged default recipe)
    added after the existing ones, in `recipe.columns()` order, rows in their original order.

    Causal and per symbol: each value uses its own symbol's rows up to and including its own.
    Rows must be in increasing `ts` order within each symbol (symbols may interleave); the
    warm-up rows at the start of each symbol are null. Raises ValueError for a frame that lacks
    a canonical column, is out of order, or already has a column the recipe would make.

    How symbols stay apart: rows are grouped so that each symbol's rows are contiguous, and
    every indicator reads the row number within its symbol (indicators.py masks every window
    that would reach into the previous symbol and restarts recursions at each symbol's first
    row). That is one pass down whole columns. `.over("symbol")` gives the same numbers, but
    each windowed expression then costs ~30 ms more per call on a million rows; with the ~100
    expressions of the default recipe, 100 symbols x 10,000 bars took 4-8 s that way against
    0.4-0.8 s this way on the 2-core development machine (benchmarks/bench_features.py).
    """
    recipe = recipe if recipe is not None else load_recipe()
    missing = [name for name in REQUIRED_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"compute_features needs the canonical OHLCV columns; missing: {missing}")
    clashing = [name for name in recipe.columns() if name in frame.columns]
    if clashing:
        raise ValueError(f"compute_features: the frame already has column(s) the recipe makes: {clashing}")

    grouped, restore, run_lengths = _symbols_contiguous(frame)
    # A frame concatenated from one frame per symbol arrives in as many chunks; window functions
    # on a chunked column copy it together again and again, so once here is cheaper.
    grouped = grouped.rechunk()
    one_symbol = len(run_lengths) <= 1
    grouped = grouped.with_columns(_row_within_symbol(run_lengths, grouped.height))
    _require_time_order(grouped)
    lazy = grouped.lazy()
    for stage in _cached_stages(recipe, one_symbol):
        lazy = lazy.with_columns(expression.alias(name) for name, expression in stage)
    # The in-memory engine: under polars' default (streaming) engine a rolling column's last
    # bits changed with whatever else the recipe held; in memory they do not (a test checks).
    out = lazy.select([*frame.columns, *recipe.columns()]).collect(engine="in-memory")
    return out if restore is None else out[restore]


def _symbols_contiguous(frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray | None, list[int]]:
    """The frame with each symbol's rows together (order within a symbol kept), the row
    positions that put the result back in the caller's order (None when nothing moved), and
    the number of rows of each symbol in the returned frame."""
    symbol = frame["symbol"]
    if frame.height == 0 or (symbol == symbol[0]).all():
        return frame, None, [frame.height]  # the common case, checked without hashing strings
    runs = symbol.rle()
    if runs.struct.field("value").is_unique().all():
        return frame, None, runs.struct.field("len").to_list()
    order = frame.select(pl.arg_sort_by("symbol", maintain_order=True)).to_series().to_numpy()
    restore = np.empty_like(order)
    restore[order] = np.arange(order.size)
    grouped = frame[order]
    return grouped, restore, grouped["symbol"].rle().struct.field("len").to_list()


def _row_within_symbol(run_lengths: list[int], height: int) -> pl.Series:
    lengths = np.asarray(run_lengths, dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    rows = np.arange(height, dtype=np.int64) - np.repeat(starts, lengths)
    return pl.Series(SYMBOL_ROW, rows, dtype=pl.Int64)


def _require_time_order(frame: pl.DataFrame) -> None:
    step = pl.col("ts").diff().dt.total_microseconds()
    if not frame.select(((pl.col(SYMBOL_ROW) == 0) | (step > 0)).all()).item():
        raise ValueError("compute_features needs rows in increasing ts order within each symbol")


# Building a recipe's expressions costs about as much as running them on a live loop's tail
# window, and they depend on the recipe alone: built once per recipe object (held here, so its
# id is not reused while cached).
_STAGES: dict[tuple[int, bool], tuple[FeatureRecipe, list[list[tuple[str, pl.Expr]]]]] = {}


def _cached_stages(recipe: FeatureRecipe, one_symbol: bool) -> list[list[tuple[str, pl.Expr]]]:
    key = (id(recipe), one_symbol)
    hit = _STAGES.get(key)
    if hit is None or hit[0] is not recipe:
        if len(_STAGES) >= 64:
            _STAGES.clear()
        hit = _STAGES[key] = (recipe, _stages(recipe, None if one_symbol else pl.col(SYMBOL_ROW)))
    return hit[1]


def _stages(recipe: FeatureRecipe, row: pl.Expr | None) -> list[list[tuple[str, pl.Expr]]]:
    """The recipe's entries as with_columns stages: stage i holds every entry's i-th step, so
    entries compute side by side; derived entries (lags, z-scores) follow all the others."""
    base = [spec for spec in recipe.features if not spec.derived]
    derived = [spec for spec in recipe.features if spec.derived]
    return _side_by_side(base, row) + _side_by_side(derived, row)


def _side_by_side(specs: list[FeatureSpec], row: pl.Expr | None) -> list[list[tuple[str, pl.Expr]]]:
    steps = [spec.steps(row) for spec in specs]
    depth = max((len(spec_steps) for spec_steps in steps), default=0)
    return [
        [(name, expression) for spec_steps in steps if index < len(spec_steps)
         for name, expression in spec_steps[index].items()]
        for index in range(depth)
    ]  # fmt: skip

"""The core recipe reproduces, bit for bit, the 8 columns every version was trained on before
recipes reached training (the old fixed feature set, frozen below exactly as it was): every stored
number and snapshot depends on these bits."""

import numpy as np
import polars as pl
import pytest

from engine.data import load_ohlcv
from engine.datasets import BUNDLED, bundled_path
from engine.features import FEATURES as CORE_FEATURES
from engine.features import add_features, compute_features, resolve_recipe

# ---- the old engine/features/training_set.py, frozen -----------------------------------------

OLD_FEATURES: list[str] = [
    "ret_1",
    "log_ret_1",
    "ret_5",
    "vol_20",
    "sma_20_ratio",
    "rsi_14",
    "hl_range",
    "volume_z_20",
]

RSI_PERIOD = 14
# A rolling std below this is a constant window up to rounding; its z-score is defined as 0.
_FLAT_STD = 1e-12


def _old_feature_columns() -> list[str]:
    """Names of the columns that add_features adds, in a stable order."""
    return list(OLD_FEATURES)


def old_add_features(frame: pl.DataFrame) -> pl.DataFrame:
    """Return `frame` with the FEATURES columns added (all existing columns kept)."""
    _require_time_order(frame)
    close = pl.col("close")
    log_ret_1 = close.log().diff()
    expressions = {
        "ret_1": close / close.shift(1) - 1,
        "log_ret_1": log_ret_1,
        "ret_5": close / close.shift(5) - 1,
        "vol_20": log_ret_1.rolling_std(20),
        "sma_20_ratio": close / close.rolling_mean(20) - 1,
        "rsi_14": wilder_rsi(close, RSI_PERIOD),
        "hl_range": (pl.col("high") - pl.col("low")) / close,
        "volume_z_20": _rolling_zscore(pl.col("volume").log1p(), 20),
    }
    return frame.with_columns(
        expression.over("symbol").alias(name) for name, expression in expressions.items()
    )


def wilder_rsi(price: pl.Expr, period: int = RSI_PERIOD) -> pl.Expr:
    """RSI exactly as TA-Lib computes it (no unstable period, not Metastock mode); equals
    `talib.RSI(price, timeperiod=period)`. One expression, meant to run `.over("symbol")`.

    Average gain and loss are seeded with the simple mean of the first `period` changes and
    then follow Wilder's recursion avg_t = (avg_{t-1} * (period - 1) + x_t) / period, which is
    an exponential mean with alpha = 1 / period started from the seed. The first value is at
    bar `period`; when both averages are 0 TA-Lib reports 0.
    """
    change = price.diff()
    average_gain = _wilder_average(change.clip(lower_bound=0), period)
    average_loss = _wilder_average((-change).clip(lower_bound=0), period)
    total = average_gain + average_loss
    return pl.when(total == 0).then(0.0).otherwise(100 * average_gain / total)


def _wilder_average(values: pl.Expr, period: int) -> pl.Expr:
    # Row `period` carries the seed (mean of rows 1..period; row 0 has no change), later rows
    # carry the raw values, earlier rows are null so the exponential mean starts at the seed.
    row = pl.int_range(pl.len())
    seeded = (
        pl.when(row == period)
        .then(values.rolling_mean(period))
        .when(row > period)
        .then(values)
        .otherwise(None)
    )
    return seeded.ewm_mean(alpha=1 / period, adjust=False, min_samples=1)


def _rolling_zscore(values: pl.Expr, window: int) -> pl.Expr:
    mean = values.rolling_mean(window)
    std = values.rolling_std(window)
    return pl.when(std < _FLAT_STD).then(0.0).otherwise((values - mean) / std)


def _require_time_order(frame: pl.DataFrame) -> None:
    step = pl.col("ts").diff().over("symbol").dt.total_microseconds()
    if not frame.select((step.is_null() | (step > 0)).all()).item():
        raise ValueError("add_features needs rows in increasing ts order within each symbol")


# ---- the checks ------------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", list(BUNDLED))
def test_core_recipe_is_bit_identical_to_the_old_fixed_set(symbol):
    frame = load_ohlcv(bundled_path(symbol), symbol=symbol)
    old = old_add_features(frame)
    new = compute_features(frame, resolve_recipe("core")[1])
    assert new.columns == old.columns
    for name in OLD_FEATURES:
        a, b = old[name].to_numpy(), new[name].to_numpy()
        assert np.array_equal(a, b, equal_nan=True), f"{symbol} {name}: max diff {np.nanmax(np.abs(a - b))}"
        assert old[name].null_count() == new[name].null_count()


def test_add_features_is_the_core_recipe():
    frame = load_ohlcv(bundled_path("GOOG"), symbol="GOOG")
    assert (
        CORE_FEATURES
        == OLD_FEATURES
        == resolve_recipe("core")[1].columns()
        == ["ret_1", "log_ret_1", "ret_5", "vol_20", "sma_20_ratio", "rsi_14", "hl_range", "volume_z_20"]
    )
    assert add_features(frame).equals(compute_features(frame, resolve_recipe("core")[1]))


def test_the_full_recipe_is_the_default_recipe_of_45_columns():
    label, recipe = resolve_recipe("full")
    assert label == "full" and len(recipe.columns()) == 45

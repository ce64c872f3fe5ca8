"""The live loop's tail windows give batch's numbers: stepping through the last bars of real
series with TailFeatures equals compute_features over the whole history, the running sum (OBV)
included."""

import numpy as np
import polars as pl
import pytest

from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.features import compute_features, resolve_recipe
from engine.features.tail import TailFeatures, recipe_warmup, running_sum_columns


@pytest.mark.parametrize("symbol", ["GOOG", "EURUSD"])
@pytest.mark.parametrize("recipe_name", ["core", "full"])
def test_stepping_through_tail_windows_equals_batch(symbol, recipe_name):
    bars = load_ohlcv(bundled_path(symbol), symbol=symbol)
    recipe = resolve_recipe(recipe_name)[1]
    batch = compute_features(bars, recipe)
    start = bars.height - 120
    tail = TailFeatures(recipe)
    assert tail.bars_needed() is None
    tail.compute(bars.head(start))  # the first call: the whole history
    served = []
    position = start
    for step in (1, 1, 3, 1, 7, 1, 2, 1, 1, 5):  # new bars arrive one or a few at a time
        position += step
        needed = tail.bars_needed()
        window = tail.compute(bars.slice(position - needed - step - 4, needed + step + 4))
        served.append(window.slice(needed))
    got = pl.concat(served).unique("ts", keep="last").sort("ts")
    expected = batch.filter(pl.col("ts").is_in(got["ts"].implode()))
    assert got.height == expected.height > 20
    for name in recipe.columns():
        ours, theirs = got[name].to_numpy().astype(float), expected[name].to_numpy().astype(float)
        # A linear-regression slope is a difference of price-sized running sums, which TA-Lib
        # re-sums every 32 windows counted from the series' start: a window starting elsewhere
        # rounds them elsewhere, a few 1e-15 of the price. Compare it on the price's scale.
        scale = np.nanmax(np.abs(batch[name].to_numpy().astype(float)))
        if name.startswith("linreg_slope"):
            scale = max(scale, float(bars["close"].abs().max()) / 100)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12 * scale, err_msg=name)


def test_the_warm_up_is_bounded_and_obv_is_carried():
    full = resolve_recipe("full")[1]
    assert 500 < recipe_warmup(full) < 1500
    assert recipe_warmup(resolve_recipe("core")[1]) < 600
    assert running_sum_columns(full) == ["obv"]
    assert running_sum_columns(resolve_recipe("core")[1]) == []


def test_a_window_that_skips_past_the_previous_one_is_refused():
    bars = load_ohlcv(bundled_path("GOOG"), symbol="GOOG")
    tail = TailFeatures(resolve_recipe("full")[1])
    tail.compute(bars.head(1000))
    with pytest.raises(ValueError, match="start inside the previous one"):
        tail.compute(bars.slice(1500, 600))

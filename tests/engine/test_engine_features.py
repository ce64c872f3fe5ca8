"""Features are causal, per symbol, and RSI is Wilder's (TA-Lib's) RSI."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.features import FEATURES, add_features, feature_columns
from engine.targets import add_forward_return, target_name

CHANGED = 100


def perturb_last_bars(frame: pl.DataFrame, n: int, seed: int = 7) -> pl.DataFrame:
    """Multiply the last n bars' prices and volume by random factors (high >= low still holds)."""
    rng = np.random.default_rng(seed)
    price_factor, volume_factor = np.ones(frame.height), np.ones(frame.height)
    price_factor[-n:] = rng.uniform(0.5, 1.5, n)
    volume_factor[-n:] = rng.uniform(0.5, 1.5, n)
    return frame.with_columns(
        [pl.col(c) * pl.Series(price_factor) for c in ["open", "high", "low", "close"]]
        + [pl.col("volume") * pl.Series(volume_factor)]
    )


def test_feature_names():
    assert feature_columns() == FEATURES
    assert FEATURES == ["ret_1", "log_ret_1", "ret_5", "vol_20", "sma_20_ratio", "rsi_14",
                        "hl_range", "volume_z_20"]  # fmt: skip


def test_add_features_keeps_existing_columns(goog):
    out = add_features(goog)
    assert out.columns == [*goog.columns, *FEATURES]
    assert_frame_equal(out.select(goog.columns), goog)
    assert out.height == goog.height
    # After the 20-bar warm-up every feature is a finite number.
    warmed = out.slice(20).select(FEATURES)
    assert warmed.null_count().sum_horizontal().item() == 0
    assert warmed.select(pl.all().is_finite().all()).row(0) == (True,) * len(FEATURES)


def test_features_never_use_future_bars(goog):
    before = add_features(goog)
    after = add_features(perturb_last_bars(goog, CHANGED))
    assert not after.tail(CHANGED).select(FEATURES).equals(before.tail(CHANGED).select(FEATURES))
    kept = goog.height - CHANGED
    assert_frame_equal(after.head(kept), before.head(kept), check_exact=True)


@pytest.mark.parametrize("horizon", [1, 5])
def test_targets_only_change_where_they_reach_the_changed_bars(goog, horizon):
    before = add_forward_return(goog, horizon)
    after = add_forward_return(perturb_last_bars(goog, CHANGED), horizon)
    kept = goog.height - CHANGED - horizon
    assert_frame_equal(after.head(kept), before.head(kept), check_exact=True)
    assert after[target_name(horizon)][kept] != before[target_name(horizon)][kept]


def test_forward_return_values_and_unknown_future(goog):
    out = add_forward_return(goog.head(30), horizon=3)
    close = goog["close"].head(30).to_numpy()
    expected = (close[3:] / close[:-3] - 1) * 1e4
    np.testing.assert_allclose(out["fwd_ret_3"].head(27).to_numpy(), expected, rtol=1e-12)
    assert out["fwd_ret_3"].tail(3).null_count() == 3
    assert out["next_ret"].tail(1).null_count() == 1
    assert out["next_ret"][0] == pytest.approx(close[1] / close[0] - 1, rel=1e-12)
    with pytest.raises(ValueError, match="horizon"):
        add_forward_return(goog, horizon=0)


def test_each_symbol_is_computed_on_its_own(goog, btc):
    other = btc.with_columns(pl.lit("BTC").alias("symbol"))
    mixed = pl.concat([goog, other]).sort("ts")  # rows of the two symbols interleave
    together = add_features(add_forward_return(mixed, 2))
    for single in (goog, other):
        symbol = single["symbol"][0]
        alone = add_features(add_forward_return(single, 2))
        # Rolling sums run down the whole column and are masked at each symbol's start, so a
        # symbol's numbers equal its own alone up to rounding (training serves one symbol at a
        # time, where they are bit for bit the same).
        assert_frame_equal(together.filter(pl.col("symbol") == symbol), alone, rel_tol=1e-10, abs_tol=1e-12)


def test_rows_out_of_time_order_are_refused(goog):
    with pytest.raises(ValueError, match="increasing ts order"):
        add_features(goog.reverse())


def reference_rsi(close: list[float], period: int = 14) -> list[float]:
    """Wilder's RSI written plainly, the way TA-Lib's TA_RSI computes it."""
    out = [math.nan] * len(close)
    changes = [close[i] - close[i - 1] for i in range(1, len(close))]
    gains = [max(c, 0.0) for c in changes]
    losses = [max(-c, 0.0) for c in changes]
    avg_gain = sum(gains[:period]) / period
    avg_loss = sum(losses[:period]) / period

    def rsi(gain: float, loss: float) -> float:
        return 0.0 if gain + loss == 0 else 100.0 * gain / (gain + loss)

    out[period] = rsi(avg_gain, avg_loss)
    for i in range(period + 1, len(close)):
        avg_gain = (avg_gain * (period - 1) + gains[i - 1]) / period
        avg_loss = (avg_loss * (period - 1) + losses[i - 1]) / period
        out[i] = rsi(avg_gain, avg_loss)
    return out


def test_rsi_equals_wilder_reference(goog):
    ours = add_features(goog)["rsi_14"]
    expected = reference_rsi(goog["close"].to_list())
    assert ours.head(14).null_count() == 14
    np.testing.assert_allclose(ours.slice(14).to_numpy(), expected[14:], rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("closes", "expected_last"),
    [([10.0] * 30, 0.0), (list(np.arange(1.0, 31.0)), 100.0), (list(np.arange(30.0, 0.0, -1)), 0.0)],
)
def test_rsi_edge_cases_follow_ta_lib(make_bars, closes, expected_last):
    closes = np.array(closes)
    returns = np.concatenate([[closes[0] / 100 - 1], closes[1:] / closes[:-1] - 1])
    frame = make_bars(returns)
    ours = add_features(frame)["rsi_14"].to_list()
    reference = reference_rsi(frame["close"].to_list())
    assert ours[-1] == pytest.approx(expected_last, abs=1e-9)
    np.testing.assert_allclose(ours[14:], reference[14:], atol=1e-9)


def test_flat_volume_gives_zero_z_score(make_bars):
    frame = make_bars(np.full(40, 0.001)).with_columns(pl.lit(500.0).alias("volume"))
    assert add_features(frame)["volume_z_20"].slice(19).to_list() == [0.0] * 21

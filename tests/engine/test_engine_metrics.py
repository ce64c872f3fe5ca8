"""Metrics on a case worked out by hand, and bar lengths per year."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.metrics import (
    evaluate_predictions,
    hit_rate,
    information_coefficient,
    mae,
    periods_per_year,
    rmse,
    sharpe_ratio,
    strategy_returns,
)

# Five bars, targets and predictions in bps, next-bar simple returns, 10 bps cost:
Y = [10.0, -20.0, 0.0, 5.0, -5.0]
P = [5.0, -10.0, 3.0, -2.0, -1.0]
NEXT = [0.001, -0.002, 0.0, 0.0005, -0.0005]
COST_BPS = 10.0
# |y - p| = 5, 10, 3, 7, 4                      -> mae  = 29 / 5 = 5.8
# (y - p)^2 = 25, 100, 9, 49, 16                -> rmse = sqrt(199 / 5)
# y == 0 on row 3 is left out; signs agree on rows 1, 2, 5, not 4  -> hit rate 3 / 4
# ranks y = 5 1 3 4 2, ranks p = 5 1 4 2 3, sum d^2 = 6  -> ic = 1 - 6 * 6 / (5 * 24) = 0.7
# positions 1 -1 1 -1 -1, turnover 1 2 2 2 0, cost 0.001 per unit:
# returns = 0.001-0.001, 0.002-0.002, 0-0.002, -0.0005-0.002, 0.0005-0 = 0, 0, -0.002, -0.0025, 0.0005
# mean = -0.0008; squared deviations sum = 7.3e-6 -> std = sqrt(7.3e-6 / 4) = sqrt(1.825e-6)
EXPECTED_RETURNS = [0.0, 0.0, -0.002, -0.0025, 0.0005]
EXPECTED_SHARPE = -0.0008 / math.sqrt(1.825e-6) * math.sqrt(252)


def test_hand_checked_case():
    assert mae(Y, P) == pytest.approx(5.8, abs=1e-12)
    assert rmse(Y, P) == pytest.approx(math.sqrt(39.8), abs=1e-12)
    assert hit_rate(Y, P) == pytest.approx(0.75, abs=1e-12)
    assert information_coefficient(Y, P) == pytest.approx(0.7, abs=1e-12)
    np.testing.assert_allclose(strategy_returns(P, NEXT, COST_BPS), EXPECTED_RETURNS, atol=1e-12)
    assert sharpe_ratio(EXPECTED_RETURNS, 252) == pytest.approx(EXPECTED_SHARPE, abs=1e-12)
    metrics = evaluate_predictions(Y, P, NEXT, COST_BPS, 252)
    assert metrics == pytest.approx(
        {"mae": 5.8, "rmse": math.sqrt(39.8), "hit_rate": 0.75, "ic": 0.7,
         "sharpe": EXPECTED_SHARPE, "n": 5}, abs=1e-12,
    )  # fmt: skip
    assert isinstance(metrics["n"], int)


def test_degenerate_inputs_give_nan():
    assert math.isnan(information_coefficient([1.0, 2.0, 3.0], [4.0, 4.0, 4.0]))
    assert math.isnan(hit_rate([0.0, 0.0], [1.0, -1.0]))
    assert math.isnan(sharpe_ratio([0.01], 252))
    assert math.isnan(sharpe_ratio([0.01, 0.01, 0.01], 252))
    assert math.isnan(mae([], []))
    with pytest.raises(ValueError, match="length mismatch"):
        mae([1.0, 2.0], [1.0])


def test_flat_prediction_never_trades():
    np.testing.assert_array_equal(strategy_returns([0.0, 0.0], [0.01, -0.02], 5.0), [0.0, 0.0])


@pytest.mark.parametrize(
    ("timeframe", "expected"),
    [("1d", 252), ("1h", 252 * 24), ("4h", 252 * 6), ("15m", 252 * 24 * 4),
     ("1m", 252 * 24 * 60), ("1w", 52), ("1mo", 12), ("3mo", 4), ("2d", 126), ("1y", 1)],
)  # fmt: skip
def test_periods_per_year(timeframe, expected):
    assert periods_per_year(timeframe) == expected


@pytest.mark.parametrize("timeframe", ["", "1", "d", "0d", "1 day", "1M", "1s", "tick", None])
def test_unknown_timeframe_raises(timeframe):
    with pytest.raises(ValueError, match="unknown timeframe"):
        periods_per_year(timeframe)

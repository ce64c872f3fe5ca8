"""Trading metrics equal empyrical-reloaded's on the same return series; ML metrics by hand."""

from __future__ import annotations

import math

import empyrical
import numpy as np
import polars as pl
import pytest

from engine import metrics
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.metrics import periods_per_year

TOLERANCE = 1e-10


def momentum_strategy_returns(symbol: str, cost_bps: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-bar returns (after costs) and positions of holding sign(20-bar momentum)."""
    close = pl.col("close")
    frame = (
        load_ohlcv(bundled_path(symbol))
        .with_columns(momentum=close / close.shift(20) - 1, next_ret=close.shift(-1) / close - 1)
        .drop_nulls(["momentum", "next_ret"])
    )
    signal, next_ret = frame["momentum"].to_numpy(), frame["next_ret"].to_numpy()
    return metrics.strategy_returns(signal, next_ret, cost_bps), np.sign(signal)


def ours_and_empyricals(returns: np.ndarray, bars_per_year: float) -> list[tuple[str, float, float]]:
    returns = np.asarray(returns, dtype=float)
    with np.errstate(all="ignore"):
        return [
            ("cumulative_return", metrics.cumulative_return(returns), empyrical.cum_returns_final(returns)),
            ("annual_return", metrics.annual_return(returns, bars_per_year),
             empyrical.annual_return(returns, annualization=bars_per_year)),
            ("annual_volatility", metrics.annual_volatility(returns, bars_per_year),
             empyrical.annual_volatility(returns, annualization=bars_per_year)),
            ("sharpe", metrics.sharpe_ratio(returns, bars_per_year),
             empyrical.sharpe_ratio(returns, annualization=bars_per_year)),
            ("sortino", metrics.sortino_ratio(returns, bars_per_year),
             empyrical.sortino_ratio(returns, annualization=bars_per_year)),
            ("calmar", metrics.calmar_ratio(returns, bars_per_year),
             empyrical.calmar_ratio(returns, annualization=bars_per_year)),
            ("max_drawdown", metrics.max_drawdown(returns), empyrical.max_drawdown(returns)),
        ]  # fmt: skip


def assert_matches_empyrical(returns, bars_per_year) -> None:
    """Equal to 1e-10 where empyrical's number is finite; where empyrical says +-inf (a ratio
    over zero dispersion or no losing bar) ours is nan by design; nan where empyrical's is."""
    for name, ours, theirs in ours_and_empyricals(returns, bars_per_year):
        theirs = float(theirs)
        if math.isfinite(theirs):
            assert ours == pytest.approx(theirs, rel=TOLERANCE, abs=TOLERANCE), name
        elif math.isinf(theirs) and name in {"sharpe", "sortino"}:
            assert math.isnan(ours), name
        else:
            assert ours == theirs or (math.isnan(ours) and math.isnan(theirs)), name


@pytest.mark.parametrize(("symbol", "timeframe"), [("GOOG", "1d"), ("EURUSD", "1h")])
def test_momentum_on_real_data_matches_empyrical(symbol, timeframe):
    returns, positions = momentum_strategy_returns(symbol, cost_bps=1.0)
    bars_per_year = periods_per_year(timeframe)
    compared = ours_and_empyricals(returns, bars_per_year)
    assert all(math.isfinite(theirs) for _, _, theirs in compared)  # a real, non-degenerate case
    assert_matches_empyrical(returns, bars_per_year)
    report = metrics.trading_report(returns, positions, bars_per_year)
    for name, ours, _ in compared:
        assert report[name] == ours
    assert report["n_bars"] == returns.size and report["max_drawdown"] < 0


@pytest.mark.parametrize("seed", range(4))
def test_random_series_with_gaps_match_empyrical(seed):
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0005, 0.01, 300)
    returns[rng.random(300) < 0.1] = np.nan  # empyrical skips NaN in means, compounds them as 0
    assert_matches_empyrical(returns, 252)
    assert_matches_empyrical(returns[~np.isnan(returns)], 52)


EDGE_CASES = {
    "all_positive": [0.01, 0.02, 0.005, 0.03],
    "all_negative": [-0.01, -0.02, -0.005],
    "constant_positive": [0.001] * 7,  # zero dispersion
    "all_zero": [0.0] * 5,
    "single": [0.01],
    "empty": [],
    "nan_inside": [0.01, np.nan, -0.02, 0.015, np.nan, 0.003],
    "all_nan": [np.nan, np.nan, np.nan],
    "nan_then_one": [np.nan, 0.01],
    "one_loss": [0.02, 0.01, -0.005, 0.03],
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_cases_match_empyrical(case):
    assert_matches_empyrical(np.array(EDGE_CASES[case], dtype=float), 252)


def test_edge_cases_by_name():
    up = np.array(EDGE_CASES["all_positive"])
    assert math.isnan(metrics.sortino_ratio(up, 252))  # empyrical: inf
    assert math.isnan(metrics.calmar_ratio(up, 252)) and metrics.max_drawdown(up) == 0.0
    assert math.isnan(metrics.profit_factor(up)) and metrics.win_rate(up) == 1.0
    flat = np.array(EDGE_CASES["constant_positive"])
    assert math.isnan(metrics.sharpe_ratio(flat, 252))  # empyrical: inf; float std is 1.5e-17
    assert metrics.annual_volatility(flat, 252) == pytest.approx(0.0, abs=1e-12)
    zero = np.array(EDGE_CASES["all_zero"])
    assert metrics.cumulative_return(zero) == 0.0 and math.isnan(metrics.win_rate(zero))
    assert math.isnan(metrics.sharpe_ratio([np.nan, 0.01, np.nan], 252))


def test_profit_factor_win_rate_and_turnover_by_hand():
    returns = [0.02, -0.01, 0.0, 0.03, -0.005, np.nan]
    assert metrics.profit_factor(returns) == pytest.approx(0.05 / 0.015, abs=1e-12)
    assert metrics.win_rate(returns) == pytest.approx(2 / 4, abs=1e-12)  # the flat bar is no bet
    # flat -> long -> short -> short -> flat -> long: |diffs| 1, 2, 0, 1, 1 -> mean 1
    positions = [1.0, -1.0, -1.0, 0.0, 1.0]
    assert metrics.turnover(positions) == pytest.approx(1.0, abs=1e-12)
    report = metrics.trading_report(np.zeros(5), positions, 252)
    assert report["annual_turnover"] == pytest.approx(252.0, abs=1e-9)
    with pytest.raises(ValueError, match="length mismatch"):
        metrics.trading_report([0.01, 0.02], [1.0], 252)
    with pytest.raises(ValueError, match="finite"):
        metrics.turnover([1.0, np.nan])


def test_turnover_is_what_strategy_returns_charges():
    returns, positions = momentum_strategy_returns("GOOG", cost_bps=0.0)
    costly, _ = momentum_strategy_returns("GOOG", cost_bps=10.0)
    assert np.mean(returns - costly) == pytest.approx(metrics.turnover(positions) * 10 / 1e4, abs=1e-15)


def test_regression_metrics_by_hand():
    y, p = [1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 5.0]
    # errors 0, -1, 1, -1 -> mse 3/4; ss_res 3, ss_tot 5 -> r2 0.4
    assert metrics.mse(y, p) == pytest.approx(0.75, abs=1e-12)
    assert metrics.r2(y, p) == pytest.approx(0.4, abs=1e-12)
    # centred: (-1.5, -.5, .5, 1.5) and (-1.75, .25, -.75, 2.25): cross 5.5, squares 5 and 8.75
    assert metrics.pearson_ic(y, p) == pytest.approx(5.5 / math.sqrt(5.0 * 8.75), abs=1e-12)
    assert math.isnan(metrics.r2([2.0, 2.0], [1.0, 3.0])) and math.isnan(metrics.mse([], []))
    report = metrics.regression_report(y, p)
    assert set(report) == {"mae", "mse", "rmse", "r2", "n"} and report["n"] == 4
    signal = metrics.signal_report(y, p)
    assert signal == {"hit_rate": 1.0, "ic": pytest.approx(0.8, abs=1e-12),
                      "pearson_ic": metrics.pearson_ic(y, p), "n": 4}  # fmt: skip


def test_classification_metrics_by_hand():
    y = [1, 1, 0, -1, -1, 0]
    p = [1, 0, 0, -1, 1, 0]
    assert metrics.accuracy(y, p) == pytest.approx(4 / 6, abs=1e-12)
    # per class F1: buy p=1/2 r=1/2 -> 1/2; hold p=2/3 r=1 -> 4/5; sell p=1 r=1/2 -> 2/3
    assert metrics.f1(y, p) == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3, abs=1e-12)
    up = [1, 0, 1, 0]
    prob = [0.8, 0.4, 0.6, 0.7]
    expected_loss = -(math.log(0.8) + math.log(0.6) + math.log(0.6) + math.log(0.3)) / 4
    assert metrics.log_loss(up, prob) == pytest.approx(expected_loss, abs=1e-12)
    # pairs (up, down): (0.8, 0.4) (0.8, 0.7) (0.6, 0.4) win, (0.6, 0.7) loses -> 3/4
    assert metrics.roc_auc(up, prob) == pytest.approx(0.75, abs=1e-12)
    assert math.isnan(metrics.roc_auc([1, 1], [0.2, 0.9]))
    three = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    assert metrics.roc_auc([-1, 0, 1], three) == pytest.approx(1.0, abs=1e-12)
    assert metrics.log_loss([-1, 0, 1], three) == pytest.approx(
        -(math.log(0.7) + math.log(0.8) + math.log(0.6)) / 3, abs=1e-12
    )
    report = metrics.classification_report(y, p)
    assert math.isnan(report["log_loss"]) and math.isnan(report["roc_auc"]) and report["n"] == 6


def test_evaluate_predictions_keeps_its_keys():
    # training's stored numbers depend on these keys and values; the new metrics sit beside them
    result = metrics.evaluate_predictions([1.0, -2.0, 3.0], [0.5, -1.0, -1.0], [0.01, -0.02, 0.03], 1.0, 252)
    assert set(result) == {"mae", "rmse", "hit_rate", "ic", "sharpe", "n"}

"""ML and trading metrics for out-of-sample predictions.

Sharpe follows empyrical(-reloaded)'s `sharpe_ratio` with risk_free=0:
mean(returns) / std(returns, ddof=1) * sqrt(periods_per_year).
"""

from __future__ import annotations

import math
import re

import numpy as np
from scipy import stats

TRADING_DAYS = 252
TRADING_WEEKS = 52
MONTHS = 12
# 24h markets: hours and minutes per trading day, as in the design (hourly = 252 x 24).
_BARS_PER_YEAR_FOR_ONE = {
    "m": TRADING_DAYS * 24 * 60,
    "h": TRADING_DAYS * 24,
    "d": TRADING_DAYS,
    "w": TRADING_WEEKS,
    "mo": MONTHS,
    "y": 1,
}
_TIMEFRAME = re.compile(r"^(\d+)(mo|m|h|d|w|y)$")


def periods_per_year(timeframe: str) -> float:
    """Bars per year for a bar length such as '15m', '1h', '4h', '1d', '1w', '1mo'.

    'm' is minutes and 'mo' months; unknown forms raise ValueError.
    """
    match = _TIMEFRAME.match(timeframe.strip()) if isinstance(timeframe, str) else None
    if not match or int(match.group(1)) == 0:
        raise ValueError(
            f"unknown timeframe {timeframe!r}; use <n>m, <n>h, <n>d, <n>w, <n>mo or <n>y "
            "(e.g. 15m, 1h, 1d, 1mo)"
        )
    count, unit = int(match.group(1)), match.group(2)
    return float(_BARS_PER_YEAR_FOR_ONE[unit]) / count


def mae(y, p) -> float:
    y, p = _pair(y, p)
    return float(np.mean(np.abs(y - p))) if y.size else math.nan


def rmse(y, p) -> float:
    y, p = _pair(y, p)
    return float(np.sqrt(np.mean((y - p) ** 2))) if y.size else math.nan


def hit_rate(y, p) -> float:
    """Share of rows where sign(p) == sign(y); rows where y == 0 have no direction and are
    left out. A zero prediction on a non-zero y counts as a miss."""
    y, p = _pair(y, p)
    moved = y != 0
    if not moved.any():
        return math.nan
    return float(np.mean(np.sign(p[moved]) == np.sign(y[moved])))


def information_coefficient(y, p) -> float:
    """Spearman rank correlation of predictions with outcomes; nan if either is constant."""
    y, p = _pair(y, p)
    if y.size < 2 or np.all(y == y[0]) or np.all(p == p[0]):
        return math.nan
    return float(stats.spearmanr(y, p).statistic)


def strategy_returns(pred, next_ret, cost_bps: float) -> np.ndarray:
    """Per-bar returns of holding sign(pred) over the next bar, after costs.

    position_t = sign(pred_t); return_t = position_t * next_ret_t
    - cost_bps / 1e4 * |position_t - position_{t-1}|, starting flat (position_{-1} = 0).
    """
    position, next_ret = _pair(np.sign(np.asarray(pred, dtype=float)), next_ret)
    turnover = np.abs(np.diff(position, prepend=0.0))
    return position * next_ret - cost_bps / 1e4 * turnover


def sharpe_ratio(returns, periods_per_year: float) -> float:
    """Annualised Sharpe (empyrical convention); nan for < 2 returns or zero volatility."""
    returns = np.asarray(returns, dtype=float)
    if returns.size < 2:
        return math.nan
    std = np.std(returns, ddof=1)
    if std == 0 or not np.isfinite(std):
        return math.nan
    return float(np.mean(returns) / std * math.sqrt(periods_per_year))


def evaluate_predictions(y_true, y_pred, next_ret, cost_bps: float, periods_per_year: float) -> dict:
    """mae, rmse, hit_rate, ic (floats), sharpe (after costs, annualised) and n (int)."""
    y_true, y_pred = _pair(y_true, y_pred)
    returns = strategy_returns(y_pred, next_ret, cost_bps)
    return {
        "mae": mae(y_true, y_pred),
        "rmse": rmse(y_true, y_pred),
        "hit_rate": hit_rate(y_true, y_pred),
        "ic": information_coefficient(y_true, y_pred),
        "sharpe": sharpe_ratio(returns, periods_per_year),
        "n": int(y_true.size),
    }


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"length mismatch: {a.size} vs {b.size}")
    return a, b

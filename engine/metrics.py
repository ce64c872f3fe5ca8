"""ML and trading metrics for out-of-sample predictions.

Trading metrics follow empyrical-reloaded (`import empyrical`, the maintained fork of
Quantopian's empyrical) and equal its `cum_returns_final`, `annual_return`,
`annual_volatility`, `sharpe_ratio`, `sortino_ratio`, `calmar_ratio` and `max_drawdown` to
1e-10 on the same return series, with risk_free = required_return = 0 and
annualization = periods_per_year(timeframe); tests/engine/test_engine_trading_metrics.py checks
it against empyrical itself. They are written with numpy here: empyrical is a test oracle only.
For example Sharpe = mean(returns) / std(returns, ddof=1) * sqrt(periods_per_year).

Like empyrical, NaN returns count as missing: means and deviations skip them, compounding
treats them as a flat bar, and annual_return still counts them in the number of years.
Where empyrical returns +-inf for a ratio because its denominator is zero (Sharpe or Sortino
of a series without dispersion or without a losing bar), these return NaN, as empyrical's own
calmar_ratio does: an infinite ratio ranks nothing and JSON cannot hold it.

ML metrics wrap scikit-learn (imported on first use, so importing this module stays cheap).
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


# How a version's prediction becomes the position it holds over the next bar: "sign" holds
# sign(prediction) (a forecast's direction, one unit), "size" holds the prediction itself (a
# sizing agent's position size). A kind declares its rule (engine.training.position_rule) and a
# version's manifest records it (engine.manifest.Manifest.position_rule), so every place that
# scores a version's predictions scores them by the same rule. dqn's -1 / 0 / +1 is the same
# under both.
POSITION_RULES = ("sign", "size")


def positions(pred, rule: str = "sign") -> np.ndarray:
    """The position held per bar under `rule` (see POSITION_RULES)."""
    pred = np.asarray(pred, dtype=float).ravel()
    if rule == "sign":
        return np.sign(pred)
    if rule == "size":
        return pred
    raise ValueError(f"unknown position rule {rule!r}; known: {', '.join(POSITION_RULES)}")


def strategy_returns(pred, next_ret, cost_bps: float, rule: str = "sign") -> np.ndarray:
    """Per-bar returns of holding the position `pred` asks for over the next bar, after costs.

    position_t = sign(pred_t) (rule "sign") or pred_t itself (rule "size"); return_t =
    position_t * next_ret_t - cost_bps / 1e4 * |position_t - position_{t-1}|, starting flat
    (position_{-1} = 0), so a size pays for the units it trades.
    """
    position, next_ret = _pair(positions(pred, rule), next_ret)
    turnover = np.abs(np.diff(position, prepend=0.0))
    return position * next_ret - cost_bps / 1e4 * turnover


def sharpe_ratio(returns, periods_per_year: float) -> float:
    """Annualised Sharpe (empyrical convention, NaN returns skipped); nan for < 2 returns or
    zero volatility (a constant series, whose float std may be a 1e-18 residue, counts as zero)."""
    returns = np.asarray(returns, dtype=float).ravel()
    if returns.size < 2:
        return math.nan
    if np.isnan(returns).any():
        returns = returns[~np.isnan(returns)]
        if returns.size < 2:
            return math.nan
    if returns.max() == returns.min():
        return math.nan
    std = np.std(returns, ddof=1)
    if std == 0 or not np.isfinite(std):
        return math.nan
    return float(np.mean(returns) / std * math.sqrt(periods_per_year))


def evaluate_predictions(
    y_true, y_pred, next_ret, cost_bps: float, periods_per_year: float, rule: str = "sign"
) -> dict:
    """mae, rmse, hit_rate, ic (floats), sharpe (after costs, annualised, positions by `rule`)
    and n (int)."""
    y_true, y_pred = _pair(y_true, y_pred)
    returns = strategy_returns(y_pred, next_ret, cost_bps, rule)
    return {
        "mae": mae(y_true, y_pred),
        "rmse": rmse(y_true, y_pred),
        "hit_rate": hit_rate(y_true, y_pred),
        "ic": information_coefficient(y_true, y_pred),
        "sharpe": sharpe_ratio(returns, periods_per_year),
        "n": int(y_true.size),
    }


# ---- ML metrics beyond mae / rmse, wrapping scikit-learn ---------------------------------


def mse(y, p) -> float:
    """Mean squared error (sklearn.metrics.mean_squared_error); nan when empty."""
    y, p = _pair(y, p)
    if not y.size:
        return math.nan
    from sklearn.metrics import mean_squared_error

    return float(mean_squared_error(y, p))


def r2(y, p) -> float:
    """Coefficient of determination (sklearn.metrics.r2_score); nan when it is undefined:
    fewer than 2 rows or a constant outcome (sklearn would then report 1.0 or 0.0)."""
    y, p = _pair(y, p)
    if y.size < 2 or np.all(y == y[0]):
        return math.nan
    from sklearn.metrics import r2_score

    return float(r2_score(y, p))


def pearson_ic(y, p) -> float:
    """Pearson correlation of predictions with outcomes (the linear information coefficient,
    beside the rank one in `information_coefficient`); nan if either is constant."""
    y, p = _pair(y, p)
    if y.size < 2 or np.all(y == y[0]) or np.all(p == p[0]):
        return math.nan
    return float(stats.pearsonr(y, p).statistic)


def accuracy(y_true, y_pred) -> float:
    """Share of rows whose predicted class is the true class (sklearn accuracy_score)."""
    y_true, y_pred = _pair(y_true, y_pred)
    if not y_true.size:
        return math.nan
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y_true, y_pred))


def f1(y_true, y_pred) -> float:
    """Macro-averaged F1 (sklearn f1_score, average="macro", zero_division=0).

    Every class that occurs in either y_true or y_pred weighs the same, so a model that always
    says "hold" cannot score well just because most bars are holds. With two classes this is
    still the macro average of both classes' F1, not the F1 of the positive class alone.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if not y_true.size:
        return math.nan
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro", zero_division=0.0))


def log_loss(y_true, proba, labels=None) -> float:
    """Cross-entropy of predicted probabilities (sklearn.metrics.log_loss).

    `proba` is either one probability per row, that of the larger of two classes (e.g. "up"),
    or one column per class in the sorted order of `labels` (default: the classes in y_true).
    Pass `labels` when y_true may lack a class. nan when empty.
    """
    y_true = np.asarray(y_true, dtype=float).ravel()
    proba = np.asarray(proba, dtype=float)
    _check_rows(y_true, proba)
    if not y_true.size:
        return math.nan
    from sklearn.metrics import log_loss as sklearn_log_loss

    return float(sklearn_log_loss(y_true, proba, labels=labels))


def roc_auc(y_true, score, labels=None) -> float:
    """Area under the ROC curve (sklearn.metrics.roc_auc_score).

    Two classes: `score` is one number per row that grows with the larger class (a probability
    or any forecast; AUC only uses its ranks). More classes: one probability column per class in
    sorted label order, averaged one-vs-rest with average="macro". nan when y_true holds fewer
    than two classes, where the curve is undefined.
    """
    y_true = np.asarray(y_true, dtype=float).ravel()
    score = np.asarray(score, dtype=float)
    _check_rows(y_true, score)
    if np.unique(y_true).size < 2:
        return math.nan
    from sklearn.metrics import roc_auc_score

    if score.ndim == 1:
        return float(roc_auc_score(y_true, score))
    return float(roc_auc_score(y_true, score, multi_class="ovr", average="macro", labels=labels))


# ---- trading metrics on a strategy's per-bar returns (after costs) ------------------------


def cumulative_return(returns) -> float:
    """Compounded return of the whole series, prod(1 + r) - 1 (empyrical cum_returns_final)."""
    returns = _returns(returns)
    if not returns.size:
        return math.nan
    return float(np.nanprod(returns + 1.0) - 1.0)


def annual_return(returns, periods_per_year: float) -> float:
    """Compound annual growth rate (empyrical annual_return):
    (1 + cumulative_return) ** (periods_per_year / number of bars) - 1."""
    returns = _returns(returns)
    if not returns.size:
        return math.nan
    years = returns.size / periods_per_year
    with np.errstate(invalid="ignore", over="ignore"):  # a total loss beyond -100% gives nan
        return float(np.float64(np.nanprod(returns + 1.0)) ** (1.0 / years) - 1.0)


def annual_volatility(returns, periods_per_year: float) -> float:
    """std(returns, ddof=1) * sqrt(periods_per_year) (empyrical annual_volatility)."""
    returns = _returns(returns)
    present = returns[~np.isnan(returns)]
    if returns.size < 2 or present.size < 2:
        return math.nan
    return float(np.std(present, ddof=1) * periods_per_year**0.5)


def sortino_ratio(returns, periods_per_year: float) -> float:
    """mean(r) * periods_per_year / downside risk (empyrical sortino_ratio, required return 0).

    Downside risk = sqrt(mean(min(r, 0) ** 2)) * sqrt(periods_per_year), the mean taken over
    every bar, not just the losing ones. nan for < 2 returns or no losing bar.
    """
    returns = _returns(returns)
    present = returns[~np.isnan(returns)]
    if returns.size < 2 or not present.size:
        return math.nan
    downside = math.sqrt(float(np.mean(np.minimum(present, 0.0) ** 2))) * math.sqrt(periods_per_year)
    if downside == 0:
        return math.nan
    return float(np.mean(present) * periods_per_year / downside)


def max_drawdown(returns) -> float:
    """Largest peak-to-trough fall of the compounded equity curve, as a fraction <= 0
    (empyrical max_drawdown). The curve starts at 1 before the first bar, so a first losing
    bar is already a drawdown."""
    returns = _returns(returns)
    if not returns.size:
        return math.nan
    wealth = np.empty(returns.size + 1)
    wealth[0] = 100.0  # empyrical's anchor value; the ratio below does not depend on it
    wealth[1:] = np.cumprod(np.where(np.isnan(returns), 0.0, returns) + 1.0) * 100.0
    peak = np.fmax.accumulate(wealth)
    return float(np.nanmin((wealth[1:] - peak[1:]) / peak[1:]))


def calmar_ratio(returns, periods_per_year: float) -> float:
    """annual_return / |max_drawdown| (empyrical calmar_ratio); nan without a drawdown."""
    drawdown = max_drawdown(returns)
    if not drawdown < 0:
        return math.nan
    ratio = annual_return(returns, periods_per_year) / abs(drawdown)
    return math.nan if math.isinf(ratio) else ratio


def profit_factor(returns) -> float:
    """Sum of the winning bars' returns / |sum of the losing bars' returns|; nan without a
    losing bar. NaN returns are skipped."""
    returns = _returns(returns)
    losses = -float(np.sum(returns[returns < 0]))
    if losses == 0:
        return math.nan
    return float(np.sum(returns[returns > 0])) / losses


def win_rate(returns) -> float:
    """Share of the bars with a non-zero return (flat bars are no bet) whose return is positive;
    nan when there is none. NaN returns are skipped."""
    returns = _returns(returns)
    traded = returns[(returns != 0) & ~np.isnan(returns)]
    if not traded.size:
        return math.nan
    return float(np.mean(traded > 0))


def turnover(positions) -> float:
    """Mean |position_t - position_{t-1}| per bar, starting flat (position_{-1} = 0), as
    `strategy_returns` charges it: going from short to long is 2 units. Multiply by
    periods_per_year for the annual turnover. nan when empty."""
    positions = np.asarray(positions, dtype=float).ravel()
    if not positions.size:
        return math.nan
    if not np.isfinite(positions).all():
        raise ValueError("positions must be finite numbers")
    return float(np.mean(np.abs(np.diff(positions, prepend=0.0))))


def trading_report(returns, positions, periods_per_year: float) -> dict:
    """Every trading metric of one strategy: its per-bar returns (after costs) and the positions
    that earned them (the same length). Floats, nan where undefined; n_bars is an int."""
    returns = _returns(returns)
    positions = np.asarray(positions, dtype=float).ravel()
    if positions.size != returns.size:
        raise ValueError(f"length mismatch: {returns.size} returns vs {positions.size} positions")
    bar_turnover = turnover(positions)
    return {
        "cumulative_return": cumulative_return(returns),
        "annual_return": annual_return(returns, periods_per_year),
        "annual_volatility": annual_volatility(returns, periods_per_year),
        "sharpe": sharpe_ratio(returns, periods_per_year),
        "sortino": sortino_ratio(returns, periods_per_year),
        "calmar": calmar_ratio(returns, periods_per_year),
        "max_drawdown": max_drawdown(returns),
        "profit_factor": profit_factor(returns),
        "win_rate": win_rate(returns),
        "turnover": bar_turnover,
        "annual_turnover": bar_turnover * periods_per_year,
        "n_bars": int(returns.size),
    }


def signal_report(y_true, y_pred) -> dict:
    """How well forecasts line up with outcomes: hit_rate, ic (rank), pearson_ic, n."""
    y_true, y_pred = _pair(y_true, y_pred)
    return {
        "hit_rate": hit_rate(y_true, y_pred),
        "ic": information_coefficient(y_true, y_pred),
        "pearson_ic": pearson_ic(y_true, y_pred),
        "n": int(y_true.size),
    }


def regression_report(y_true, y_pred) -> dict:
    """mae, mse, rmse, r2 of a forecast (floats, nan where undefined) and n."""
    y_true, y_pred = _pair(y_true, y_pred)
    return {
        "mae": mae(y_true, y_pred),
        "mse": mse(y_true, y_pred),
        "rmse": rmse(y_true, y_pred),
        "r2": r2(y_true, y_pred),
        "n": int(y_true.size),
    }


def classification_report(y_true, y_pred, proba=None, labels=None) -> dict:
    """accuracy and macro F1 of predicted classes, and with `proba` (see `log_loss` and
    `roc_auc` for its shape) log_loss and roc_auc; nan where undefined or not given."""
    y_true, y_pred = _pair(y_true, y_pred)
    return {
        "accuracy": accuracy(y_true, y_pred),
        "f1": f1(y_true, y_pred),
        "log_loss": math.nan if proba is None else log_loss(y_true, proba, labels=labels),
        "roc_auc": math.nan if proba is None else roc_auc(y_true, proba, labels=labels),
        "n": int(y_true.size),
    }


def _returns(returns) -> np.ndarray:
    return np.asarray(returns, dtype=float).ravel()


def _check_rows(y: np.ndarray, values: np.ndarray) -> None:
    rows = values.shape[0] if values.ndim else 0
    if values.ndim not in (1, 2) or rows != y.size:
        raise ValueError(f"length mismatch: {y.size} outcomes vs {rows} rows of predictions")


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"length mismatch: {a.size} vs {b.size}")
    return a, b

"""Checks of the environments' inputs and parameters, one clear line each. No gymnasium here:
the agent kinds check their parameters with these before anything heavy is imported."""

from __future__ import annotations

import math

import numpy as np

from engine.rl.windows import bar_returns_from

RISK_PENALTIES = ("none", "volatility", "drawdown")

# The observation space's bounds: every finite float32 (an infinite bound makes gymnasium's
# checker warn; nothing here is bounded tighter).
OBS_BOUND = float(np.finfo(np.float32).max)


def checked_inputs(
    features, next_returns, window: int, *, what: str = "training"
) -> tuple[np.ndarray, np.ndarray]:
    """(features as float32 (n, f), next returns as float64 (n,)); ValueError on bad shapes,
    non-finite values, or a window longer than the rows."""
    features = np.asarray(features, dtype=np.float64)
    next_returns = np.asarray(next_returns, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(
            f"features must be a 2-D matrix (bars in time order x features), got {features.ndim}-D"
        )
    n_rows = features.shape[0]
    if next_returns.shape != (n_rows,):
        raise ValueError(
            f"next_returns must hold one return per bar ({n_rows}), got shape {next_returns.shape}"
        )
    if n_rows == 0:
        raise ValueError("features have no rows")
    checked_window(window, n_rows, what=what)
    if not np.isfinite(features).all():
        row, column = np.argwhere(~np.isfinite(features))[0]
        raise ValueError(f"features have NaN or inf at row {row}, column {column}")
    if not np.isfinite(next_returns).all():
        row = int(np.flatnonzero(~np.isfinite(next_returns))[0])
        raise ValueError(f"next_returns have NaN or inf at row {row}")
    return features.astype(np.float32), next_returns


def checked_window(window: int, n_rows: int, *, what: str = "training") -> int:
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise ValueError(f"window must be a whole number of bars >= 1, got {window!r}")
    if window > n_rows:
        raise ValueError(
            f"window {window} is longer than the {n_rows} {what} rows; use a window of at most {n_rows} bars"
        )
    return int(window)


def checked_bar_returns(bar_returns, next_returns: np.ndarray) -> np.ndarray:
    if bar_returns is None:
        return bar_returns_from(next_returns)
    bar_returns = np.asarray(bar_returns, dtype=np.float64)
    if bar_returns.shape != next_returns.shape or not np.isfinite(bar_returns).all():
        raise ValueError(
            f"bar_returns must be finite, one per bar ({next_returns.size}), got shape {bar_returns.shape}"
        )
    return bar_returns


def checked_episode_length(episode_length: int | None, n_rows: int) -> int | None:
    if episode_length is None:
        return None
    whole = isinstance(episode_length, int | np.integer) and not isinstance(episode_length, bool)
    if not whole or episode_length < 1:
        raise ValueError(f"episode_length must be a whole number >= 1 or None, got {episode_length!r}")
    if episode_length > n_rows:
        raise ValueError(f"episode_length {episode_length} is longer than the {n_rows} training rows")
    return int(episode_length)


def checked_cost(cost_bps: float) -> float:
    number = isinstance(cost_bps, int | float) and not isinstance(cost_bps, bool)
    if not number or not math.isfinite(cost_bps) or cost_bps < 0:
        raise ValueError(f"cost_bps must be a number >= 0, got {cost_bps!r}")
    return float(cost_bps)


def check_leverage_cap(leverage_cap: float) -> float:
    ok = isinstance(leverage_cap, int | float) and not isinstance(leverage_cap, bool)
    if not ok or not math.isfinite(leverage_cap) or leverage_cap <= 0:
        raise ValueError(f"leverage_cap must be a number > 0 (the largest position size), got {leverage_cap}")
    return float(leverage_cap)

"""Forward-looking targets. These look ahead by design and must never be used as features."""

from __future__ import annotations

import polars as pl

BASIS_POINTS = 1e4


def target_name(horizon: int) -> str:
    """Column name of the forward return over `horizon` bars, e.g. "fwd_ret_1"."""
    return f"fwd_ret_{_checked_horizon(horizon)}"


def add_forward_return(frame: pl.DataFrame, horizon: int = 1) -> pl.DataFrame:
    """Add `fwd_ret_{horizon}` (bps) and `next_ret` (simple return of the next bar), per symbol.

    fwd_ret_h[t] = (close[t+h] / close[t] - 1) * 1e4 and next_ret[t] = close[t+1] / close[t] - 1.
    The last h rows (last row for next_ret) of each symbol are null: their future is unknown
    and is never filled in. next_ret is what a position held over bar t -> t+1 earns.
    """
    close = pl.col("close")
    return frame.with_columns(
        ((close.shift(-horizon) / close - 1) * BASIS_POINTS).over("symbol").alias(target_name(horizon)),
        (close.shift(-1) / close - 1).over("symbol").alias("next_ret"),
    )


def _checked_horizon(horizon: int) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"horizon must be a whole number of bars >= 1, got {horizon!r}")
    return horizon

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
        _forward_return_bps(horizon).over("symbol").alias(target_name(horizon)),
        (close.shift(-1) / close - 1).over("symbol").alias("next_ret"),
    )


def _checked_horizon(horizon: int) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"horizon must be a whole number of bars >= 1, got {horizon!r}")
    return horizon


def net_edge_name(horizon: int) -> str:
    """Column name of the net edge over `horizon` bars, e.g. "net_edge_bps_1"."""
    return f"net_edge_bps_{_checked_horizon(horizon)}"


def direction_name(horizon: int) -> str:
    """Column name of the three-class direction over `horizon` bars, e.g. "direction_1"."""
    return f"direction_{_checked_horizon(horizon)}"


def add_net_edge(frame: pl.DataFrame, horizon: int = 1, cost_bps: float = 1.0) -> pl.DataFrame:
    """Add `net_edge_bps_{horizon}`: what the forward move is worth after a round trip, per symbol.

    `cost_bps` is the cost per unit of turnover, the meaning it has everywhere in Huracan, so a
    round trip (flat -> position -> flat) costs 2 * cost_bps. With fwd = the forward return in
    bps over `horizon` bars (as in `add_forward_return`):

        net_edge_bps[t] = sign(fwd[t]) * max(|fwd[t]| - 2 * cost_bps, 0)

    i.e. the move a perfect trader would have captured, in the direction of the move, shrunk by
    the round-trip cost and zero when the move does not pay for it. The last `horizon` rows of
    each symbol are null (their future is unknown) and are never filled in.
    """
    horizon = _checked_horizon(horizon)
    round_trip = 2.0 * _checked_bps("cost_bps", cost_bps)
    forward = _forward_return_bps(horizon)
    # "+ 0.0" turns the -0.0 of a small down move into 0.0.
    edge = forward.sign() * (forward.abs() - round_trip).clip(lower_bound=0.0) + 0.0
    return frame.with_columns(edge.over("symbol").alias(net_edge_name(horizon)))


def add_direction(frame: pl.DataFrame, horizon: int = 1, threshold_bps: float = 0.0) -> pl.DataFrame:
    """Add `direction_{horizon}` (Int8), the forward move in three classes, per symbol:

    1 (buy) where fwd > threshold_bps, -1 (sell) where fwd < -threshold_bps, 0 (hold) otherwise,
    with fwd the forward return in bps over `horizon` bars. The inequalities are strict, so a
    move of exactly the threshold is a hold. The last `horizon` rows of each symbol are null
    (their future is unknown) and are never filled in.
    """
    horizon = _checked_horizon(horizon)
    threshold = _checked_bps("threshold_bps", threshold_bps)
    forward = _forward_return_bps(horizon)
    direction = (
        pl.when(forward > threshold)
        .then(pl.lit(1, dtype=pl.Int8))
        .when(forward < -threshold)
        .then(pl.lit(-1, dtype=pl.Int8))
        .when(forward.is_not_null())
        .then(pl.lit(0, dtype=pl.Int8))
        .otherwise(pl.lit(None, dtype=pl.Int8))
    )
    return frame.with_columns(direction.over("symbol").alias(direction_name(horizon)))


def _forward_return_bps(horizon: int) -> pl.Expr:
    """Forward return in bps over `horizon` bars, (close[t+h] / close[t] - 1) * 1e4; evaluate
    it `.over("symbol")`."""
    close = pl.col("close")
    return (close.shift(-horizon) / close - 1) * BASIS_POINTS


def _checked_bps(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
        raise ValueError(f"{name} must be a finite number of bps >= 0, got {value!r}")
    return float(value)

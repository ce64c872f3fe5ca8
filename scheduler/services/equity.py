"""Equity curves for the console's slot detail: what trading a version's forecasts would have
earned bar by bar, after costs, beside buy-and-hold over the same bars, with the drawdown.

The trading rule is engine.metrics' own, `strategy_returns` (hold the position the forecast asks
for over the next return, by the version's position rule: sign(forecast), or the forecast itself
for a sizing agent's size; pay cost_bps per unit of turnover, start flat): the rule behind the
walk-forward Sharpe and the live metrics, so a curve ends where those stored figures say. Live
forecasts are scored exactly as scheduler.services.live_metrics scores them: the realised
forward return in bps, the version's cost_bps, Sharpe annualised by the bars per year over the
horizon.

A version's walk-forward curve is drawn from the out-of-sample predictions the brain stored with
it (brain.oos_predictions), the rows its stored out-of-sample metrics were computed from, with its
manifest's cost_bps and Sharpe annualised by its timeframe, as engine.training scores them; a
version stored before the brain kept them has none (`VersionEquity.walk_forward` is None).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from brain import Brain, VersionRecord
from scheduler.services.live_metrics import BASIS_POINTS, _cost_bps, position_rule


@dataclass(frozen=True)
class EquityCurve:
    """Returns as fractions (0.05 is +5%), one value per bar, each at the end of its bar."""

    timestamps: tuple[datetime, ...]
    strategy: tuple[float, ...]  # compounded return of the strategy after costs
    buy_and_hold: tuple[float, ...]  # compounded return of holding long over the same bars
    drawdown: tuple[float, ...]  # the strategy's fall from its running peak (<= 0)
    max_drawdown: float  # engine.metrics.max_drawdown of the strategy's returns
    sharpe: float | None  # annualised, after costs; None where undefined

    @property
    def total_return(self) -> float:
        return self.strategy[-1]

    @property
    def buy_and_hold_return(self) -> float:
        return self.buy_and_hold[-1]


@dataclass(frozen=True)
class LiveEquity:
    """The champion's forecasts since it became champion."""

    version: int
    since: datetime  # its newest promotion (or rollback to it)
    curve: EquityCurve | None  # None while no forecast made since then has matured


@dataclass(frozen=True)
class VersionEquity:
    version: int
    # None: the brain holds no out-of-sample predictions of it (trained before they were stored)
    walk_forward: EquityCurve | None
    live: LiveEquity | None  # None: the slot has no champion


def _compounded(returns: np.ndarray) -> np.ndarray:
    """prod(1 + r) - 1 up to each bar; NaN counts as a flat bar, as engine.metrics compounds."""
    return np.cumprod(1.0 + np.nan_to_num(returns, nan=0.0)) - 1.0


def equity_curve(
    timestamps: Sequence[datetime],
    forecast: Sequence[float] | np.ndarray,
    bar_returns: Sequence[float] | np.ndarray,
    *,
    cost_bps: float,
    periods_per_year: float,
    flat_at_each_fold: Sequence[int] | np.ndarray | None = None,
    rule: str = "sign",
) -> EquityCurve:
    """The curve of holding sign(forecast_t) (rule "sign") or forecast_t itself (rule "size")
    over bar_returns_t (the return that followed the forecast, a fraction) after cost_bps per
    unit of turnover, starting flat. With
    `flat_at_each_fold` (each bar's fold), every fold's trading starts flat again, as
    engine.ensembles scores an ensemble's folds. Raises ValueError for no bars or lengths that
    differ."""
    from engine.metrics import max_drawdown, sharpe_ratio, strategy_returns

    bar_returns = np.asarray(bar_returns, dtype=float).ravel()
    if not bar_returns.size:
        raise ValueError("an equity curve needs at least one bar")
    if len(timestamps) != bar_returns.size:
        raise ValueError(f"length mismatch: {len(timestamps)} timestamps vs {bar_returns.size} returns")
    if flat_at_each_fold is None:
        returns = strategy_returns(forecast, bar_returns, cost_bps, rule)
    else:
        returns = _returns_fold_by_fold(forecast, bar_returns, np.asarray(flat_at_each_fold), cost_bps, rule)
    strategy = _compounded(returns)
    wealth = 1.0 + strategy
    peak = np.maximum.accumulate(np.maximum(wealth, 1.0))  # wealth is 1 before the first bar
    sharpe = sharpe_ratio(returns, periods_per_year)
    return EquityCurve(
        timestamps=tuple(timestamps),
        strategy=tuple(strategy.tolist()),
        buy_and_hold=tuple(_compounded(bar_returns).tolist()),
        drawdown=tuple((wealth / peak - 1.0).tolist()),
        max_drawdown=max_drawdown(returns),
        sharpe=None if math.isnan(sharpe) else sharpe,
    )


def _returns_fold_by_fold(forecast, bar_returns: np.ndarray, folds: np.ndarray,
                          cost_bps: float, rule: str = "sign") -> np.ndarray:
    from engine.metrics import strategy_returns

    forecast = np.asarray(forecast, dtype=float).ravel()
    if folds.size != bar_returns.size or forecast.size != bar_returns.size:
        raise ValueError(f"length mismatch: {folds.size} folds, {forecast.size} forecasts vs "
                         f"{bar_returns.size} returns")
    starts = np.flatnonzero(np.r_[True, folds[1:] != folds[:-1]])
    bounds = zip(starts, [*starts[1:], folds.size], strict=True)
    return np.concatenate([strategy_returns(forecast[a:b], bar_returns[a:b], cost_bps, rule)
                           for a, b in bounds])


def walk_forward_equity(brain: Brain, version: VersionRecord) -> EquityCurve | None:
    """The version's walk-forward out-of-sample predictions as a curve, scored as its stored
    out-of-sample metrics were; None when the brain holds none of it."""
    from engine.ensembles.version import KIND as ENSEMBLE
    from engine.metrics import periods_per_year

    rows = brain.oos_predictions(version.id)
    if rows is None:
        return None
    # An ensemble's overall Sharpe trades each fold from flat (engine.ensembles.version.fold_metrics);
    # a plain version's trades its folds back to back (engine.training.train_model).
    folds = rows.fold if version.model_kind == ENSEMBLE else None
    return equity_curve(
        rows.ts,
        np.asarray(rows.prediction, dtype=float),
        np.asarray(rows.next_ret, dtype=float),
        cost_bps=_cost_bps(version),
        periods_per_year=periods_per_year(version.manifest["timeframe"]),
        flat_at_each_fold=folds,
        rule=position_rule(version),
    )


def champion_live_equity(brain: Brain, slot_key: str) -> LiveEquity | None:
    """The champion's matured live forecasts made since its promotion, as a curve; None when the
    slot has no champion."""
    from engine.metrics import periods_per_year

    champion = brain.champion(slot_key)
    slot = brain.get_slot(slot_key)
    if champion is None or slot is None:
        return None
    history = brain.promotion_history(slot_key)  # newest first
    promoted = next((row.ts for row in history if row.version == champion.number), None)
    if promoted is None:
        return None
    matured = brain.list_predictions(slot_key, version=champion.number, matured=True, since=promoted)
    if not matured:
        return LiveEquity(champion.number, promoted, None)
    curve = equity_curve(
        [record.ts for record in matured],
        [record.blended for record in matured],
        np.asarray([record.realised for record in matured], dtype=float) / BASIS_POINTS,
        cost_bps=_cost_bps(champion),
        periods_per_year=periods_per_year(slot.timeframe) / slot.horizon,
        rule=position_rule(champion),
    )
    return LiveEquity(champion.number, promoted, curve)


def version_equity(brain: Brain, slot_key: str, number: int) -> VersionEquity:
    """What the slot detail draws for version `number`: its walk-forward curve and the slot
    champion's live curve."""
    walk_forward = walk_forward_equity(brain, brain.get_version(slot_key, number))
    return VersionEquity(number, walk_forward=walk_forward, live=champion_live_equity(brain, slot_key))

"""A version's scorecard: the trading metrics after costs of its walk-forward out-of-sample bars
(Sharpe, Sortino, Calmar, max drawdown, profit factor, win rate, turnover), beside buy-and-hold
and the slot's champion on the same bars, the share of bars it held short, flat and long, and,
for an agent, what it chose on the newest live bar.

Every figure is engine.metrics' own (`trading_report` over `strategy_returns`), from the rows the
brain stored with each version (brain.oos_predictions), each version's predictions turned into
positions by its manifest's position rule and charged its manifest's cost_bps; "the same bars"
are the bars both versions predicted out of sample. Nothing is refitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from brain import Brain, VersionRecord
from scheduler.services.live_metrics import _cost_bps

# The figures a scorecard shows, in order, with engine.metrics.trading_report's names.
SCORECARD_METRICS = ("sharpe", "sortino", "calmar", "max_drawdown", "profit_factor", "win_rate",
                     "turnover", "cumulative_return")


@dataclass(frozen=True)
class ScoreLine:
    """One strategy's trading metrics over the scorecard's bars."""

    label: str  # "v3 dqn", "buy & hold", "★ v1 linear"
    metrics: dict[str, float]


@dataclass(frozen=True)
class Positions:
    """The share of bars a version held short, flat and long (positions by its rule)."""

    short: float
    flat: float
    long: float
    mean_abs_size: float  # 1.0 for a version holding whole units; a sizing agent's average size


@dataclass(frozen=True)
class Scorecard:
    version: int
    kind: str
    bars: int  # the bars of the lines below; 0: the brain holds no out-of-sample rows of it
    cost_bps: float
    lines: tuple[ScoreLine, ...]  # the version, buy & hold, the champion (where it is another)
    positions: Positions | None
    champion_bars: int | None  # bars shared with the champion (None: no other champion)
    latest_choice: dict[str, Any] | None = None  # an agent's newest live bar: its details
    latest_choice_ts: datetime | None = None


def version_scorecard(brain: Brain, slot_key: str, number: int) -> Scorecard:
    """The scorecard of version `number` of `slot_key` (see the module's docstring)."""
    version = brain.get_version(slot_key, number)
    rows = brain.oos_predictions(version.id)
    kind = version.model_kind
    latest, latest_ts = _latest_choice(brain, slot_key, version)
    if rows is None or not rows.ts:
        return Scorecard(number, kind, 0, _cost_bps(version), (), None, None, latest, latest_ts)
    from engine.metrics import periods_per_year

    per_year = periods_per_year(version.manifest["timeframe"])
    ts = list(rows.ts)
    prediction = np.asarray(rows.prediction, dtype=float)
    next_ret = np.asarray(rows.next_ret, dtype=float)
    lines = [ScoreLine(f"v{number} {kind}", _report(version, prediction, next_ret, per_year)),
             ScoreLine("buy & hold", _buy_and_hold(next_ret, per_year))]
    champion_bars = None
    champion = brain.champion(slot_key)
    if champion is not None and champion.number != number:
        theirs = brain.oos_predictions(champion.id)
        if theirs is not None:
            line, champion_bars = _on_shared_bars(champion, theirs, ts, per_year)
            if line is not None:
                lines.append(line)
    return Scorecard(number, kind, len(ts), _cost_bps(version), tuple(lines),
                     _positions(version, prediction), champion_bars, latest, latest_ts)


def _rule(version: VersionRecord) -> str:
    from engine.manifest import position_rule_of

    return position_rule_of(version.manifest)


def _report(version: VersionRecord, prediction: np.ndarray, next_ret: np.ndarray,
            per_year: float) -> dict[str, float]:
    from engine.metrics import positions, strategy_returns, trading_report

    rule = _rule(version)
    returns = strategy_returns(prediction, next_ret, _cost_bps(version), rule)
    report = trading_report(returns, positions(np.nan_to_num(prediction), rule), per_year)
    return {name: float(report[name]) for name in SCORECARD_METRICS}


def _buy_and_hold(next_ret: np.ndarray, per_year: float) -> dict[str, float]:
    """Long one unit from the first bar, entry paid nothing: the market over the same bars."""
    from engine.metrics import trading_report

    report = trading_report(next_ret, np.ones_like(next_ret), per_year)
    return {name: float(report[name]) for name in SCORECARD_METRICS}


def _on_shared_bars(champion: VersionRecord, theirs, ts: list[datetime],
                    per_year: float) -> tuple[ScoreLine | None, int]:
    """The champion scored on the bars it shares with this version (its own out-of-sample rows)."""
    wanted = set(ts)
    keep = [i for i, bar in enumerate(theirs.ts) if bar in wanted]
    if len(keep) < 2:
        return None, len(keep)
    prediction = np.asarray(theirs.prediction, dtype=float)[keep]
    next_ret = np.asarray(theirs.next_ret, dtype=float)[keep]
    label = f"★ v{champion.number} {champion.model_kind}"
    return ScoreLine(label, _report(champion, prediction, next_ret, per_year)), len(keep)


def _positions(version: VersionRecord, prediction: np.ndarray) -> Positions:
    from engine.metrics import positions

    held = positions(np.nan_to_num(prediction), _rule(version))
    n = max(held.size, 1)
    return Positions(short=float(np.sum(held < 0)) / n, flat=float(np.sum(held == 0)) / n,
                     long=float(np.sum(held > 0)) / n,
                     mean_abs_size=float(np.mean(np.abs(held))) if held.size else 0.0)


def _latest_choice(brain: Brain, slot_key: str, version: VersionRecord):
    """The details the live loop stored with this version's newest forecast (agents only)."""
    newest = brain.list_predictions(slot_key, version=version.number, limit=1)
    if not newest or newest[0].details is None:
        return None, None
    return newest[0].details, newest[0].ts

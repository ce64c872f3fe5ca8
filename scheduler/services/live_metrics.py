"""Live metrics: how a version's forecasts fared against their realised outcomes.

The numbers are engine.metrics' own: MAE and MSE of the blended forecast against the realised
forward return (bps), and the trading view of the position held over the horizon, by the
version's position rule (its manifest's `position_rule`: sign(forecast), or the forecast itself
for a sizing agent's size), return_t = position_t * realised_t / 1e4 - cost_bps / 1e4 *
|Δ position| (strategy_returns),
Sharpe annualised by the bars per year of the timeframe divided by the horizon (one forecast per
horizon; for horizon 1 exactly as engine.metrics annualises out-of-sample Sharpe) and the win
rate of the bars that held a position.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from brain import Brain, BrainError
from brain.live import LIVE_METRICS, PredictionRecord
from brain.records import VersionRecord

BASIS_POINTS = 1e4
LIVE_METRIC_NAMES = LIVE_METRICS  # one list: the brain reads back what is stored here


def outcome_metrics(
    forecast, realised, *, timeframe: str, horizon: int, cost_bps: float, rule: str = "sign"
) -> dict[str, Any]:
    """n, mae, mse, sharpe (after costs, annualised, positions by `rule`), win_rate of forecasts
    against outcomes."""
    from engine.metrics import mae, mse, periods_per_year, sharpe_ratio, strategy_returns, win_rate

    forecast = np.asarray(forecast, dtype=float)
    realised = np.asarray(realised, dtype=float)
    returns = strategy_returns(forecast, realised / BASIS_POINTS, cost_bps, rule)
    return {
        "n": int(forecast.size),
        "mae": mae(realised, forecast),
        "mse": mse(realised, forecast),
        "sharpe": sharpe_ratio(returns, periods_per_year(timeframe) / horizon),
        "win_rate": win_rate(returns),
    }


def _cost_bps(version: VersionRecord) -> float:
    return float(version.manifest.get("cost_bps", 1.0))


def position_rule(version: VersionRecord) -> str:
    """How the version's forecasts are traded (engine.manifest.position_rule_of)."""
    from engine.manifest import position_rule_of

    return position_rule_of(version.manifest)


def metrics_of(records: list[PredictionRecord], version: VersionRecord, timeframe: str, horizon: int) -> dict:
    """outcome_metrics of matured records (in bar order), with the bars they span."""
    values = outcome_metrics(
        [r.blended for r in records],
        [r.realised for r in records],
        timeframe=timeframe,
        horizon=horizon,
        cost_bps=_cost_bps(version),
        rule=position_rule(version),
    )
    return {"start": records[0].ts if records else None, "end": records[-1].ts if records else None, **values}


def live_metrics(
    brain: Brain,
    slot_key: str,
    version: int | None = None,
    *,
    window: int = 50,
    since: datetime | None = None,
) -> list[dict[str, Any]]:
    """Consecutive windows of `window` matured forecasts of one version (default: the champion),
    oldest first, each with start / end bars, n, mae, mse, sharpe and win_rate. A last window
    that is not full yet is included (its n says so). Empty when nothing has matured."""
    slot = brain.get_slot(slot_key)
    record = brain.champion(slot_key) if version is None else brain.get_version(slot_key, version)
    if slot is None or record is None:
        return []
    matured = brain.list_predictions(slot_key, version=record.number, matured=True, since=since)
    return [
        metrics_of(matured[start : start + window], record, slot.timeframe, slot.horizon)
        for start in range(0, len(matured), window)
    ]


def recent_live_metrics(
    brain: Brain, slot_key: str, version: VersionRecord, *, window: int
) -> dict[str, Any]:
    """The metrics of the newest `window` matured forecasts of `version` (n may be smaller)."""
    slot = brain.get_slot(slot_key)
    if slot is None:
        raise BrainError(f"no slot {slot_key}")
    matured = brain.list_predictions(slot_key, version=version.number, matured=True, limit=window)
    return metrics_of(matured, version, slot.timeframe, slot.horizon)


def record_live_metrics(
    brain: Brain, slot_key: str, version: VersionRecord, *, window: int, regime_config=None
) -> dict[str, Any]:
    """Store the newest window's metrics as the version's 'live' metrics (read back by
    brain.live_summaries for the console), and, once a whole window has matured since they were
    last stored, its live metrics by regime (scheduler.services.regime_map) labelled by
    `regime_config` (an engine.regimes.RegimeConfig; None: the defaults); returns them."""
    values = recent_live_metrics(brain, slot_key, version, window=window)
    if values["n"]:
        brain.record_metrics(
            version.id,
            [{"name": f"live_{name}", "value": values[name], "scope": "live"} for name in LIVE_METRIC_NAMES],
        )
        from scheduler.services.regime_map import refresh_live_regime_metrics

        refresh_live_regime_metrics(brain, slot_key, version, oldest_in_window=values["start"],
                                    regime_config=regime_config)
    return values

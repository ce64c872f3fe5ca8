"""Equity curves (issue 14): the strategy's compounded return after costs, buy-and-hold over the
same bars and the drawdown, by the trading rule behind the stored walk-forward and live metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from brain import open_brain
from engine.metrics import evaluate_predictions, strategy_returns, trading_report
from scheduler.services.equity import champion_live_equity, equity_curve, version_equity
from scheduler.services.live_metrics import record_live_metrics

GOOG = "GOOG:1d:fwd_ret_1"
DAY = timedelta(days=1)
PROMOTED = datetime(2026, 1, 6, 8, tzinfo=UTC)


def test_a_small_curve_by_hand():
    # long, long, short, flat at 10 bps a unit of turnover: costs 0.001, 0, 0.002, 0.001
    stamps = [datetime(2026, 1, day, tzinfo=UTC) for day in range(1, 5)]
    curve = equity_curve(stamps, [0.4, 2.0, -1.0, 0.0], [0.01, -0.02, 0.03, 0.01], cost_bps=10.0,
                         periods_per_year=252)
    # strategy returns 0.009, -0.02, -0.032, -0.001 compounded
    assert curve.strategy == pytest.approx([0.009, -0.01118, -0.04282224, -0.04377941776], abs=1e-12)
    assert curve.buy_and_hold == pytest.approx([0.01, -0.0102, 0.019494, 0.02968894], abs=1e-12)
    # the peak is 1.009 after the first bar
    assert curve.drawdown == pytest.approx([0.0, -0.02, -0.05136, -0.05230864], abs=1e-12)
    assert curve.max_drawdown == pytest.approx(-0.05230864, abs=1e-12)
    assert curve.total_return == curve.strategy[-1]
    assert curve.timestamps == tuple(stamps)


def test_a_first_losing_bar_is_already_a_drawdown():
    curve = equity_curve([PROMOTED], [1.0], [-0.01], cost_bps=0.0, periods_per_year=252)
    assert curve.drawdown == pytest.approx((-0.01,))
    assert curve.max_drawdown == pytest.approx(-0.01)
    assert curve.sharpe is None  # one bar has no dispersion


def test_the_curve_ends_where_the_walk_forward_metrics_do():
    """The same forecasts and next returns engine.training.score hands evaluate_predictions: the
    curve's Sharpe is the stored Sharpe, its end the trading report's cumulative return."""
    rng = np.random.default_rng(3)
    next_ret = rng.normal(0.0004, 0.015, 400)
    forecast = 0.3 * next_ret + rng.normal(0, 0.015, 400)
    forecast[::17] = 0.0  # some flat bars
    stamps = [PROMOTED + i * DAY for i in range(400)]
    curve = equity_curve(stamps, forecast, next_ret, cost_bps=2.5, periods_per_year=252)
    stored = evaluate_predictions(next_ret * 1e4, forecast, next_ret, 2.5, 252)
    report = trading_report(strategy_returns(forecast, next_ret, 2.5), np.sign(forecast), 252)
    assert curve.sharpe == pytest.approx(stored["sharpe"], rel=1e-12)
    assert curve.total_return == pytest.approx(report["cumulative_return"], rel=1e-12)
    assert curve.max_drawdown == pytest.approx(report["max_drawdown"], rel=1e-12)
    assert min(curve.drawdown) == pytest.approx(curve.max_drawdown, rel=1e-12)
    assert curve.buy_and_hold_return == pytest.approx(float(np.prod(1 + next_ret) - 1), rel=1e-12)


def test_bad_input_says_what_is_wrong():
    with pytest.raises(ValueError, match="at least one bar"):
        equity_curve([], [], [], cost_bps=1.0, periods_per_year=252)
    with pytest.raises(ValueError, match="length mismatch"):
        equity_curve([PROMOTED], [1.0, 2.0], [0.01, 0.02], cost_bps=1.0, periods_per_year=252)


def seed_live_equity(url: str, *, n: int = 60) -> None:
    """GOOG v1 champion from PROMOTED on, with n matured daily forecasts made after it, and
    forecasts the curve must leave out: older ones, v2's, and one not matured yet."""
    rng = np.random.default_rng(11)
    realised = rng.normal(8.0, 120.0, n)  # bps
    blended = 0.15 * realised + rng.normal(0.0, 120.0, n)
    with open_brain(url) as brain:
        brain.promote_version(GOOG, 1, actor="alice", reason="test", force=True, at=PROMOTED)
        v1, v2 = brain.get_version(GOOG, 1), brain.get_version(GOOG, 2)
        rows = [{"slot_key": GOOG, "version_id": v1.id, "ts": PROMOTED + i * DAY,
                 "predicted_at": PROMOTED + i * DAY + timedelta(hours=1), "batch": float(b),
                 "blended": float(b), "realised": float(r), "realised_at": PROMOTED + (i + 1) * DAY}
                for i, (b, r) in enumerate(zip(blended, realised, strict=True))]
        rows.append({"slot_key": GOOG, "version_id": v1.id, "ts": PROMOTED - 3 * DAY,
                     "predicted_at": PROMOTED - 3 * DAY, "batch": 1.0, "blended": 1.0, "realised": -900.0})
        rows.append({"slot_key": GOOG, "version_id": v2.id, "ts": PROMOTED + DAY,
                     "predicted_at": PROMOTED + DAY, "batch": 1.0, "blended": 1.0, "realised": 900.0})
        rows.append({"slot_key": GOOG, "version_id": v1.id, "ts": PROMOTED + n * DAY,
                     "predicted_at": PROMOTED + n * DAY + timedelta(hours=1), "batch": 1.0, "blended": 1.0})
        brain.record_predictions(rows)


def test_the_live_curve_starts_at_the_promotion_and_ends_at_the_stored_live_sharpe(seeded_brain_url):
    seed_live_equity(seeded_brain_url, n=60)
    with open_brain(seeded_brain_url) as brain:
        live = champion_live_equity(brain, GOOG)
        champion = brain.champion(GOOG)
        stored = record_live_metrics(brain, GOOG, champion, window=60)  # the newest 60: since promotion
        stored_sharpe = next(m.value for m in brain.version_metrics(champion.id, scope="live")
                             if m.name == "live_sharpe")
        matured = brain.list_predictions(GOOG, version=1, matured=True, since=PROMOTED)
    assert live.version == 1 and live.since == PROMOTED
    curve = live.curve
    assert len(curve.timestamps) == 60 == stored["n"]  # the older, v2 and pending forecasts left out
    assert curve.timestamps[0] == PROMOTED
    assert curve.sharpe == pytest.approx(stored_sharpe, rel=1e-9)
    realised = np.array([record.realised for record in matured]) / 1e4
    forecast = [record.blended for record in matured]
    returns = strategy_returns(forecast, realised, champion.manifest["cost_bps"])
    assert curve.total_return == pytest.approx(float(np.prod(1 + returns) - 1), rel=1e-12)
    assert curve.buy_and_hold_return == pytest.approx(float(np.prod(1 + realised) - 1), rel=1e-12)


def test_without_a_champion_or_stored_predictions_there_is_no_curve(seeded_brain_url):
    from tests.scheduler.test_sched_oos_equity import forget_oos_predictions

    forget_oos_predictions(seeded_brain_url, GOOG, 2)  # as if trained before they were stored
    with open_brain(seeded_brain_url) as brain:
        equity = version_equity(brain, GOOG, 2)
        assert equity.version == 2 and equity.walk_forward is None and equity.live is None
        brain.promote_version(GOOG, 1, actor="alice", reason="test", force=True, at=PROMOTED)
        live = champion_live_equity(brain, GOOG)
    assert live.version == 1 and live.curve is None  # promoted, nothing matured yet

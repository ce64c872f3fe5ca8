"""A DQN agent in the product path, on real brains (SQLite and PostgreSQL): trained walk-forward
and stored like any version, compared with the supervised model on the same bars after costs,
promoted, and served by the live loop, which stores on every bar the action it took with the
Q-value of each action (and blends nothing into a position)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from scheduler.config import HuracanConfig, TrainingConfig
from scheduler.services.comparison import compare_versions
from scheduler.services.ensembles import newest_of_each_kind
from scheduler.services.feeds import ReplayFeed
from scheduler.services.live import LiveState, live_tick
from scheduler.services.scorecard import version_scorecard
from scheduler.services.training import train_slot

SLOT = "GOOG:1d:fwd_ret_1"
TRAIN_BARS = 300
NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
TINY_DQN = {"total_timesteps": 300, "learning_starts": 50, "buffer_size": 500, "window": 5,
            "net_arch": [8]}


@pytest.fixture
def brain(any_brain_url):
    goog = load_ohlcv(bundled_path("GOOG"), symbol="GOOG")
    brain = open_brain(any_brain_url)
    brain.store_bars("GOOG", "1d", goog.head(TRAIN_BARS))
    train_slot(brain, "GOOG", "1d", TrainingConfig(models=["linear", "dqn"], n_folds=2,
                                                   params={"dqn": TINY_DQN}))
    yield brain
    brain.close()


def test_a_dqn_agent_is_compared_promoted_and_its_live_choices_are_stored(brain):
    agent = next(v for v in brain.list_versions(SLOT) if v.model_kind == "dqn")
    linear = next(v for v in brain.list_versions(SLOT) if v.model_kind == "linear")
    stored = {m.name: m.value for m in brain.version_metrics(agent.id) if m.fold is None}
    assert {"sharpe", "hit_rate"} <= set(stored)
    # The agent beside the supervised model, on the same bars, after costs.
    compared = compare_versions(brain, SLOT, linear.number, [agent.number], n_boot=50)
    assert compared["challengers"] == [agent.number] and compared["periods"] > 30
    brain.promote_version(SLOT, linear.number, actor="alice", reason="the supervised model")
    card = version_scorecard(brain, SLOT, agent.number)
    assert [line.label for line in card.lines] == [f"v{agent.number} dqn", "buy & hold",
                                                   f"★ v{linear.number} linear"]
    mine, market, champion = (line.metrics for line in card.lines)
    # The walk-forward Sharpe stored with the version is the scorecard's, from the same rows.
    assert mine["sharpe"] == pytest.approx(stored["sharpe"], rel=1e-9)
    rows = brain.oos_predictions(agent.id)
    assert card.bars == len(rows.ts) and card.champion_bars == card.bars  # the same folds' bars
    assert market["cumulative_return"] == pytest.approx(np.prod(1 + np.asarray(rows.next_ret)) - 1)
    assert market["turnover"] == pytest.approx(1 / card.bars)  # bought once
    assert champion["sharpe"] != mine["sharpe"]
    shares = card.positions
    assert shares.short + shares.flat + shares.long == pytest.approx(1.0)
    assert card.latest_choice is None  # nothing served yet
    brain.promote_version(SLOT, agent.number, actor="alice", reason="the agent", force=True)

    state = LiveState()
    feed = ReplayFeed(bundled_path("GOOG"), "GOOG", "1d", speed=5)
    for _ in range(3):
        live_tick(brain, HuracanConfig(), [feed], state=state, now=NOW)
    rows = [row for row in brain.list_predictions(SLOT, limit=200) if row.version_id == agent.id]
    assert len(rows) >= 10
    for row in rows:
        assert row.batch in (-1.0, 0.0, 1.0) and row.blended == row.batch and row.online is None
        assert row.details["position"] == row.batch
        assert set(row.details["q_values"]) == {"sell", "hold", "buy"}
        best = max(row.details["q_values"], key=row.details["q_values"].get)
        assert row.details["action"] == best
    newest = max(rows, key=lambda row: row.ts)
    card = version_scorecard(brain, SLOT, agent.number)
    assert card.latest_choice == newest.details and card.latest_choice_ts == newest.ts
    assert [line.label for line in card.lines] == [f"v{agent.number} dqn", "buy & hold"]  # it leads now
    # An agent's positions are not forecasts to blend: the console's "ensemble" retrain leaves it out.
    with pytest.raises(ValueError, match="versions of 1 kind"):
        newest_of_each_kind(brain, SLOT)
    # The supervised rows keep no details.
    others = [row for row in brain.list_predictions(SLOT, limit=200) if row.version_id != agent.id]
    assert all(row.details is None for row in others)

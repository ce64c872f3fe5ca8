"""The feedback loop end to end inside live_tick, on both backends: a slot trained on bars with a
planted signal goes live, a second real version is force-promoted, the previous champion
shadows it on the same bars, and the policies that run inside the tick roll a decisively worse
champion back (and queue it for pruning by its live ensemble weight) while an equally good one
stays."""

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from brain import open_brain
from engine.models import make_model
from engine.policies_config import PoliciesConfig, PrunePolicyConfig, RollbackPolicyConfig
from engine.training import prepare_data
from scheduler.config import HuracanConfig, TrainingConfig
from scheduler.services.feeds import ReplayFeed
from scheduler.services.live import LiveState, live_tick
from scheduler.services.training import train_slot

SYMBOL = "SYN"
SLOT = f"{SYMBOL}:1d:fwd_ret_1"
TRAIN_BARS, LIVE_BARS, SPEED = 300, 120, 10
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
ROLLBACK = RollbackPolicyConfig(window=40, min_samples=20, alpha=0.01)


def planted_bars(n: int, phi: float = 0.6, seed: int = 3) -> pl.DataFrame:
    """Daily bars whose returns continue `phi` of the previous one: the features predict the
    next return, so a linear model has real skill and its negation real anti-skill."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(scale=0.01, size=n)
    returns = np.empty(n)
    returns[0] = noise[0]
    for t in range(1, n):
        returns[t] = phi * returns[t - 1] + noise[t]
    close = 100.0 * np.cumprod(1.0 + returns)
    open_ = np.concatenate([[100.0], close[:-1]])
    return pl.DataFrame(
        {
            "ts": [datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=i) for i in range(n)],
            "symbol": [SYMBOL] * n,
            "open": open_,
            "high": np.maximum(open_, close) * 1.002,
            "low": np.minimum(open_, close) * 0.998,
            "close": close,
            "volume": rng.lognormal(10, 0.5, n),
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )


@pytest.fixture
def live_slot(any_brain_url, tmp_path):
    """A brain holding the training bars and v1 (linear, trained by train_slot), and a replay
    feed of the bars that follow."""
    bars = planted_bars(TRAIN_BARS + LIVE_BARS)
    path = tmp_path / "syn.csv"
    bars.drop("symbol").write_csv(path)
    with open_brain(any_brain_url) as brain:
        brain.store_bars(SYMBOL, "1d", bars.head(TRAIN_BARS))
        train_slot(brain, SYMBOL, "1d", TrainingConfig(models=["linear"], n_folds=2))
        yield brain, bars.head(TRAIN_BARS), ReplayFeed(path, SYMBOL, "1d", speed=SPEED)


def add_linear_version(brain, training_bars: pl.DataFrame, *, target_sign: float, alpha: float):
    """A real ridge model fitted on v1's training rows against `target_sign` × the forward
    return, stored as the slot's next version with v1's manifest (features, costs, window)."""
    first = brain.get_version(SLOT, 1)
    data = prepare_data(training_bars, horizon=1)
    assert data.features == first.manifest["features"]
    model = make_model("linear", alpha=alpha).fit(data.X, target_sign * data.fwd)
    manifest = {k: v for k, v in first.manifest.items() if k != "artifact_sha256"}
    return brain.add_version(
        SLOT,
        model_kind="linear",
        manifest={**manifest, "params": {"alpha": alpha}, "target_sign": target_sign},
        artifact=model.to_bytes(),
        artifact_format=model.artifact_format,
        metrics=[],
        data_start=first.data_start,
        data_end=first.data_end,
        actor="test",
    )


def run_feedback_loop(brain, training_bars, feed, *, target_sign: float, alpha: float):
    """v1 goes live for two ticks, v2 is force-promoted, then ticks run until the feed is
    played out. Returns (reports after the promotion, the promotion, v1's last bar before it)."""
    config = HuracanConfig(
        policies=PoliciesConfig(rollback=ROLLBACK, prune=PrunePolicyConfig(min_samples=20))
    )
    state, clock = LiveState(), iter(T0 + timedelta(minutes=k) for k in range(1000))
    first = [live_tick(brain, config, [feed], state=state, now=next(clock)) for _ in range(2)]
    assert first[0].promoted == [f"{SLOT} v1"] and sum(r.predictions for r in first) > 2 * SPEED
    before = brain.list_predictions(SLOT, version=1)[-1].ts

    add_linear_version(brain, training_bars, target_sign=target_sign, alpha=alpha)
    promotion = brain.promote_version(
        SLOT, 2, actor="alice", reason="try the refit", force=True, at=next(clock)
    )
    reports = []
    while feed.remaining(brain):
        reports.append(live_tick(brain, config, [feed], state=state, now=next(clock)))
    return reports, promotion, before


def test_a_decisively_worse_new_champion_is_rolled_back_inside_the_live_loop(live_slot):
    brain, training_bars, feed = live_slot
    reports, promotion, before = run_feedback_loop(brain, training_bars, feed, target_sign=-1.0, alpha=1.0)

    # v2 took over from the bar v1 had reached (no forecasts after the fact of bars live under
    # v1), and v1 shadowed it on exactly those bars.
    new = brain.list_predictions(SLOT, version=2)
    assert new and new[0].ts > before
    shadow = brain.list_predictions(SLOT, version=1, since=promotion.ts)
    assert [r.ts for r in shadow][: len(new)] == [r.ts for r in new]
    # The stored v2 really is the negation of v1 (a ridge fit on the negated target).
    assert np.corrcoef([r.batch for r in new], [r.batch for r in shadow[: len(new)]])[0, 1] < -0.99

    (rollback,) = brain.list_rollbacks(SLOT)
    assert [r.rollbacks for r in reports if r.rollbacks] == [[rollback.id]]  # in one TickReport
    assert rollback.automatic and (rollback.from_version, rollback.to_version) == (2, 1)
    assert rollback.actor == "scheduler" and brain.champion(SLOT).number == 1
    evidence = rollback.evidence
    assert evidence["test"] == "diebold_mariano" and evidence["alpha"] == 0.01
    assert evidence["statistic"] < 0 and evidence["p"] < 0.01
    # Judged within the window after the promotion, on v2's first bars.
    assert ROLLBACK.min_samples <= evidence["n"] <= ROLLBACK.window
    assert evidence["live_metrics"]["v2"]["mae"] > evidence["live_metrics"]["v1"]["mae"]
    assert evidence["live_metrics"]["v2"]["start"] == new[0].ts.isoformat()
    assert brain.promotion_history(SLOT, limit=1)[0].kind == "auto_rollback"

    # After the rollback v1 forecasts on alone, and v2, worthless beside it in the optimised
    # blend of their shared live bars, is queued for pruning with the weights as evidence.
    assert brain.list_predictions(SLOT, version=1)[-1].ts > new[-1].ts
    (item,) = brain.list_queue("prune")
    assert (item.version, item.rule, item.state) == (2, "ensemble_weight_near_zero", "pending")
    assert item.evidence["weights"]["v2"] <= 0.01 and item.evidence["weights"]["v1"] >= 0.99
    # Queued in the rollback's own tick: the weights were fitted on the bars the test judged.
    assert item.evidence["n"] == evidence["n"] and item.evidence["champion"] == 1
    assert item.evidence["start"] == new[0].ts.isoformat()


def test_an_equally_good_new_champion_stays(live_slot):
    brain, training_bars, feed = live_slot
    # A ridge refit with another penalty: a different model, as good as v1 on the same signal.
    reports, promotion, _ = run_feedback_loop(brain, training_bars, feed, target_sign=1.0, alpha=30.0)

    assert all(not r.rollbacks for r in reports)
    assert brain.list_rollbacks(SLOT) == [] and brain.champion(SLOT).number == 2
    # The judging window ran its course: v1 shadowed exactly the first `window` bars of v2.
    shadow = brain.list_predictions(SLOT, version=1, since=promotion.ts)
    new = brain.list_predictions(SLOT, version=2)
    assert len(shadow) == ROLLBACK.window and len(new) > ROLLBACK.window
    assert [r.ts for r in shadow] == [r.ts for r in new[: ROLLBACK.window]]

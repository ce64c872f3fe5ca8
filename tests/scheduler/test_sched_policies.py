"""Feedback policies on constructed live outcomes, on both backends: retrain under a cooldown,
prune after consecutive bad windows, auto-rollback only when the paired test is decisive."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from brain import open_brain
from engine.policies_config import PrunePolicyConfig, RetrainPolicyConfig, RollbackPolicyConfig
from scheduler.services.policies import AutoRollbackPolicy, PrunePolicy, RetrainPolicy

SLOT = "GOOG:1d:fwd_ret_1"
T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
BAR0 = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def brain(any_brain_url):
    with open_brain(any_brain_url) as brain:
        brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
        for number in (1, 2, 3):
            brain.add_version(
                SLOT,
                model_kind="linear",
                manifest={"features": ["rsi_14"], "cost_bps": 1.0},
                artifact=f"model {number}".encode(),
                artifact_format="skops",
                metrics=[{"name": "mae", "value": 10.0}, {"name": "sharpe", "value": 1.0}],
                data_start=None,
                data_end=None,
            )
        brain.promote_version(SLOT, 1, actor="test", reason="first", at=T0)
        yield brain


def _outcomes(brain, number, forecasts, realised, *, at=T0, first_bar=0):
    version = brain.get_version(SLOT, number)
    brain.record_predictions(
        [
            {
                "slot_key": SLOT,
                "version_id": version.id,
                "ts": BAR0 + timedelta(days=first_bar + i),
                "predicted_at": at + timedelta(minutes=1),
                "batch": float(f),
                "blended": float(f),
                "realised": float(r),
                "realised_at": at + timedelta(minutes=2),
            }
            for i, (f, r) in enumerate(zip(forecasts, realised, strict=True))
        ]
    )


def _alternating(n, size=5.0):
    return np.where(np.arange(n) % 2 == 0, size, -size)


def test_retrain_is_queued_once_with_its_numbers_and_again_only_after_the_cooldown(brain):
    policy = RetrainPolicy(RetrainPolicyConfig(window=50, min_samples=30, cooldown="1h"))
    _outcomes(brain, 1, [100.0] * 29, _alternating(29))
    assert policy.evaluate(brain, brain.get_slot(SLOT), now=T0) is None  # 29 < min_samples
    _outcomes(brain, 1, [100.0] * 11, _alternating(11), first_bar=29)
    item = policy.evaluate(brain, brain.get_slot(SLOT), now=T0)
    assert (item.queue, item.slot_key, item.rule, item.state) == (
        "retrain",
        SLOT,
        "live_underperformance",
        "pending",
    )
    mae = item.evidence["live"]["mae"]
    assert mae == pytest.approx((21 * 95 + 19 * 105) / 40)  # 21 outcomes of +5 bps, 19 of -5
    assert f"live MAE {mae:.3g} > 1.5 × out-of-sample MAE 10" in item.reason
    assert item.evidence["live"]["n"] == 40 and item.evidence["oos_mae"] == 10.0
    assert policy.evaluate(brain, brain.get_slot(SLOT), now=T0) is None  # already open
    brain.decide_queue_item(item.id, approve=False, actor="alice", reason="noise")
    assert policy.evaluate(brain, brain.get_slot(SLOT), now=T0 + timedelta(minutes=59)) is None  # cooldown
    again = policy.evaluate(brain, brain.get_slot(SLOT), now=T0 + timedelta(hours=1, seconds=1))
    assert again is not None and again.id != item.id
    assert len(brain.list_queue("retrain")) == 2


def test_a_champion_doing_well_live_is_not_queued(brain):
    realised = _alternating(40)
    _outcomes(brain, 1, realised * 1.1, realised)  # right direction, small errors
    assert RetrainPolicy(RetrainPolicyConfig()).evaluate(brain, brain.get_slot(SLOT), now=T0) is None


def test_prune_after_n_consecutive_windows_worse_than_the_champion(brain):
    policy = PrunePolicy(PrunePolicyConfig(window=10, windows=3, cooldown="1d"))
    realised = _alternating(30)
    _outcomes(brain, 1, realised + 1.0, realised)  # champion: error 1
    shadow = realised + 3.0
    shadow[15] = realised[15]  # v2 beats the champion on one bar, not over a whole window
    _outcomes(brain, 2, shadow, realised)
    _outcomes(brain, 3, realised + 3.0, realised, first_bar=10)  # v3: only two windows shared
    slot = brain.get_slot(SLOT)
    (item,) = policy.evaluate(brain, slot, now=T0)
    assert (item.queue, item.version, item.rule) == ("prune", 2, "worse_than_champion")
    assert [w["champion_mae"] for w in item.evidence["windows"]] == pytest.approx([1.0, 1.0, 1.0])
    assert policy.evaluate(brain, slot, now=T0) == []  # open already; v3 still has too few windows


def test_a_version_better_in_one_window_is_kept(brain):
    realised = _alternating(30)
    _outcomes(brain, 1, realised + 1.0, realised)
    shadow = realised + 3.0
    shadow[10:20] = realised[10:20]  # a whole window better than the champion
    _outcomes(brain, 2, shadow, realised)
    assert PrunePolicy(PrunePolicyConfig(window=10, windows=3)).evaluate(brain, brain.get_slot(SLOT)) == []


def _promote_v2(brain):
    brain.promote_version(SLOT, 2, actor="alice", reason="try it", force=True, at=T0 + timedelta(hours=1))
    return T0 + timedelta(hours=1)


@pytest.mark.parametrize("test", ["diebold_mariano", "paired_t"])
def test_auto_rollback_when_the_new_champion_is_clearly_worse(brain, test):
    policy = AutoRollbackPolicy(RollbackPolicyConfig(window=60, min_samples=30, alpha=0.01, test=test))
    promoted = _promote_v2(brain)
    assert policy.shadow_wanted(brain, SLOT).number == 1
    rng = np.random.default_rng(7)
    realised = rng.normal(0, 50, 40)
    _outcomes(brain, 1, realised + rng.normal(0, 2, 40), realised, at=promoted)  # previous: small errors
    _outcomes(brain, 2, realised + rng.normal(0, 2, 40) + 40, realised, at=promoted)  # new: 40 bps off
    rollback = policy.evaluate(brain, brain.get_slot(SLOT), now=promoted + timedelta(hours=1))
    assert rollback is not None and rollback.automatic
    assert (rollback.from_version, rollback.to_version, rollback.actor) == (2, 1, "scheduler")
    assert brain.champion(SLOT).number == 1
    evidence = rollback.evidence
    assert evidence["test"] == test and evidence["n"] == 40
    assert evidence["p"] < 0.01 and evidence["statistic"] < 0
    assert evidence["live_metrics"]["v2"]["mae"] > evidence["live_metrics"]["v1"]["mae"] + 30
    assert "metrics" in evidence  # the versions' out-of-sample numbers, added by brain.rollback
    assert brain.promotion_history(SLOT, limit=1)[0].kind == "auto_rollback"
    assert policy.evaluate(brain, brain.get_slot(SLOT), now=promoted + timedelta(hours=2)) is None


def test_no_rollback_when_the_new_champion_is_not_significantly_worse(brain):
    policy = AutoRollbackPolicy(RollbackPolicyConfig(window=60, min_samples=30))
    promoted = _promote_v2(brain)
    rng = np.random.default_rng(11)
    realised = rng.normal(0, 50, 40)
    noise = rng.normal(0, 5, 40)
    _outcomes(brain, 1, realised + noise, realised, at=promoted)
    _outcomes(brain, 2, realised - noise + _alternating(40, 0.1), realised, at=promoted)  # same errors
    assert policy.evaluate(brain, brain.get_slot(SLOT), now=promoted + timedelta(hours=1)) is None
    assert brain.champion(SLOT).number == 2 and brain.list_rollbacks(SLOT) == []


def test_too_few_shared_bars_or_outcomes_before_the_promotion_decide_nothing(brain):
    policy = AutoRollbackPolicy(RollbackPolicyConfig(window=60, min_samples=30))
    realised = _alternating(40)
    _outcomes(brain, 1, realised, realised, at=T0)  # before the promotion: not the judged window
    _outcomes(brain, 2, realised + 80, realised, at=T0)
    promoted = _promote_v2(brain)
    _outcomes(brain, 1, realised[:20], realised[:20], at=promoted, first_bar=40)
    _outcomes(brain, 2, realised[:20] + 80, realised[:20], at=promoted, first_bar=40)
    assert policy.evaluate(brain, brain.get_slot(SLOT), now=promoted + timedelta(hours=1)) is None
    assert brain.champion(SLOT).number == 2


def test_the_shadow_stops_once_the_window_after_a_promotion_is_full(brain):
    policy = AutoRollbackPolicy(RollbackPolicyConfig(window=30, min_samples=10))
    assert policy.shadow_wanted(brain, SLOT) is None  # the first champion has no predecessor
    promoted = _promote_v2(brain)
    _outcomes(brain, 2, _alternating(29), _alternating(29), at=promoted)
    assert policy.shadow_wanted(brain, SLOT).number == 1
    _outcomes(brain, 2, [1.0], [1.0], at=promoted, first_bar=29)
    assert policy.shadow_wanted(brain, SLOT) is None


def _weight_policy(**overrides):
    return PrunePolicy(PrunePolicyConfig(window=40, min_samples=30, min_ensemble_weight=0.01, **overrides))


def test_prune_a_shadow_that_earns_no_weight_in_the_optimised_live_ensemble(brain):
    rng = np.random.default_rng(5)
    realised = rng.normal(0, 50, 45)
    _outcomes(brain, 1, realised + rng.normal(0, 2, 45), realised)  # champion: small errors
    _outcomes(brain, 2, -realised + rng.normal(0, 10, 45), realised)  # v2: the outcome's negation
    policy, slot = _weight_policy(), brain.get_slot(SLOT)
    (item,) = policy.evaluate(brain, slot, now=T0)
    assert (item.queue, item.version, item.rule) == ("prune", 2, "ensemble_weight_near_zero")
    evidence = item.evidence
    # The engine's optimiser on the newest 40 shared bars only: the blend's weights, ≥ 0, sum 1.
    from engine.ensembles import optimise_weights

    rows = {n: brain.list_predictions(SLOT, version=n, matured=True)[-40:] for n in (1, 2)}
    forecasts = np.array([[r.blended for r in rows[1]], [r.blended for r in rows[2]]]).T
    expected = optimise_weights(forecasts, [r.realised for r in rows[1]])
    assert [evidence["weights"]["v1"], evidence["weights"]["v2"]] == pytest.approx(expected, abs=1e-9)
    assert sum(evidence["weights"].values()) == pytest.approx(1.0)
    assert evidence["weights"]["v2"] <= 0.01 and evidence["ensemble_weight"] == evidence["weights"]["v2"]
    assert (evidence["n"], evidence["champion"], evidence["threshold"]) == (40, 1, 0.01)
    assert evidence["start"] == rows[1][0].ts.isoformat() and evidence["end"] == rows[1][-1].ts.isoformat()
    assert "ensemble weight" in item.reason and "champion v1" in item.reason
    # Open already, then the cooldown: no second item for the same rule.
    assert policy.evaluate(brain, slot, now=T0) == []
    brain.decide_queue_item(item.id, approve=False, actor="alice", reason="keep it a while")
    assert policy.evaluate(brain, slot, now=T0 + timedelta(days=1)) == []
    assert len(policy.evaluate(brain, slot, now=T0 + timedelta(days=7, seconds=1))) == 1


def test_a_shadow_whose_errors_the_blend_averages_out_keeps_its_weight(brain):
    rng = np.random.default_rng(6)
    realised = rng.normal(0, 50, 45)
    # Both as good, with independent errors: the optimised blend leans on both (≈ half each).
    _outcomes(brain, 1, realised + rng.normal(0, 10, 45), realised)
    _outcomes(brain, 2, realised + rng.normal(0, 10, 45), realised)
    # v3 forecast too few bars beside the champion to be weighed at all.
    _outcomes(brain, 3, -realised[:20], realised[:20])
    assert _weight_policy().evaluate(brain, brain.get_slot(SLOT), now=T0) == []
    from scheduler.services.policies import live_ensemble_weights

    champion, versions = brain.champion(SLOT), brain.list_versions(SLOT)[1:]
    blend = live_ensemble_weights(brain, SLOT, champion, versions, window=40, min_samples=30)
    assert set(blend["weights"]) == {"v1", "v2"} and 0.3 < blend["weights"]["v2"] < 0.7


def test_a_version_without_enough_shared_live_bars_is_not_weighed(brain):
    realised = _alternating(29)
    _outcomes(brain, 1, realised, realised)
    _outcomes(brain, 2, -realised, realised)  # useless, but only 29 < min_samples shared bars
    assert _weight_policy().evaluate(brain, brain.get_slot(SLOT), now=T0) == []

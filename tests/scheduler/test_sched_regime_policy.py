"""The regime policy (issue 17, item 5), on both backends: when a slot's regime has just changed
and its champion is weak in the new one (its metric there below the threshold, or another
version significantly better on the bars they share), a retrain item is queued with the regime
map as evidence, under a cooldown; a strong champion, an old change or a disabled policy queue
nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from brain import open_brain
from engine.policies_config import PoliciesConfig, RegimePolicyConfig
from scheduler.config import HuracanConfig, load_config
from scheduler.services.policies import RegimePolicy, regime_change
from scheduler.services.regimes import slot_regimes
from tests.scheduler.test_sched_regime_map import SLOT, add_synthetic_versions, synthetic_labels

T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
GOOG = "GOOG:1d:fwd_ret_1"


def labels_until(bars: int) -> pl.DataFrame:
    """The synthetic labels as they stood on bar `bars` - 1 (labels are causal: a prefix)."""
    return synthetic_labels().head(bars)


def back_to_ranging(bars_ago: int) -> pl.DataFrame:
    """The synthetic slot's 400 bars, its last 20 relabelled: trending up, then ranging again for
    the newest `bars_ago` bars. The champion's evidence in a regime is every earlier bar of it."""
    trend = (synthetic_labels()["trend"].to_list()[:380] + ["trending_up"] * (20 - bars_ago)
             + ["ranging"] * bars_ago)
    return synthetic_labels().with_columns(trend=pl.Series(trend))


@pytest.fixture
def synthetic(any_brain_url):
    with open_brain(any_brain_url) as brain:
        made = add_synthetic_versions(brain)  # champion A: right in trends, wrong when ranging
        yield brain, brain.get_slot(SLOT), made


def test_regime_change_finds_a_recent_change_only():
    labels = synthetic_labels()  # 200 trending_up, 180 ranging, 20 trending_down
    assert regime_change(labels.head(203), "trend", 5) == ("trending_up", "ranging", 3)
    assert regime_change(labels.head(210), "trend", 5) is None  # 10 bars ago: not recent
    assert regime_change(labels.head(150), "trend", 5) is None  # never changed
    assert regime_change(labels.head(0), "trend", 5) is None


def test_a_weak_champion_in_the_new_regime_is_queued_once_under_the_cooldown(synthetic):
    brain, slot, made = synthetic
    policy = RegimePolicy(RegimePolicyConfig(cooldown="1d"))
    # Three bars into a range: too few bars of it so far to judge anything.
    assert policy.evaluate(brain, slot, now=T0, labels=labels_until(203)) is None
    # Back in a range after a trend: 180 earlier ranging bars say the champion is weak there.
    item = policy.evaluate(brain, slot, now=T0, labels=back_to_ranging(3))
    assert item is not None and item.queue == "retrain" and item.rule == "regime_weak_champion"
    b = made["versions"]["B"].number
    assert "moved from trending_up to ranging (trend)" in item.reason
    assert f"v{b} is better there" in item.reason and "sharpe there is" in item.reason
    evidence = item.evidence
    assert evidence["regime"] == "ranging" and evidence["previous"] == "trending_up"
    assert evidence["bars_since_change"] == 3 and evidence["version"] == made["versions"]["A"].number
    best = evidence["ranking"][0]
    assert best["version"] == b and best["rank"] == 1 and best["verdict"] == "better"
    # Still in the new regime a bar later: the cooldown (and the open item) hold it back.
    assert policy.evaluate(brain, slot, now=T0 + timedelta(hours=1), labels=back_to_ranging(4)) is None
    assert len(brain.list_queue("retrain", slot_key=SLOT)) == 1


def test_a_strong_champion_an_old_change_or_a_disabled_policy_queue_nothing(synthetic):
    brain, slot, _made = synthetic
    # Back into trending_up after a short range: A is right in trends, so it is strong there.
    back = synthetic_labels().head(200).with_columns(
        trend=pl.Series(["trending_up"] * 190 + ["ranging"] * 7 + ["trending_up"] * 3))
    assert RegimePolicy(RegimePolicyConfig()).evaluate(brain, slot, now=T0, labels=back) is None
    # Into trending_down (A is neither right nor wrong there on purpose: 20 bars, too few to judge).
    assert RegimePolicy(RegimePolicyConfig()).evaluate(brain, slot, now=T0, labels=labels_until(383)) is None
    assert RegimePolicy(RegimePolicyConfig()).evaluate(brain, slot, now=T0, labels=labels_until(215)) is None
    disabled = RegimePolicy(RegimePolicyConfig(enabled=False))
    assert disabled.evaluate(brain, slot, now=T0, labels=labels_until(203)) is None
    assert brain.list_queue("retrain", slot_key=SLOT) == []


def test_a_change_is_judged_once_per_champion_where_the_caller_keeps_what_was_judged(synthetic, monkeypatch):
    # The live loop keeps the changes judged between ticks: a change is judged on the first tick
    # that sees it, not again on each later tick of its recent bars (a judgement reads the map).
    import scheduler.services.regime_map as regime_map_module

    brain, slot, made = synthetic
    reads: list[str] = []
    real_map = regime_map_module.regime_map
    monkeypatch.setattr(regime_map_module, "regime_map",
                        lambda *args, **kwargs: reads.append(args[1]) or real_map(*args, **kwargs))
    back = synthetic_labels().head(200).with_columns(
        trend=pl.Series(["trending_up"] * 190 + ["ranging"] * 7 + ["trending_up"] * 3))
    longer = pl.concat([back, back.tail(1).with_columns(pl.col("ts") + timedelta(hours=1))])
    policy, judged = RegimePolicy(RegimePolicyConfig()), {}
    assert policy.evaluate(brain, slot, now=T0, labels=back, judged=judged) is None  # strong
    assert policy.evaluate(brain, slot, now=T0, labels=longer, judged=judged) is None
    assert reads == [SLOT]  # the same change, a bar on: not judged again
    # A new champion is judged afresh on the same change.
    brain.promote_version(SLOT, made["versions"]["B"].number, actor="alice", reason="B", force=True)
    policy.evaluate(brain, slot, now=T0, labels=longer, judged=judged)
    assert reads == [SLOT, SLOT]


def test_the_threshold_alone_makes_a_champion_weak(synthetic):
    brain, slot, _made = synthetic
    # On the vol axis, low and high alternate every bar: a change one bar ago, every bar.
    strict = RegimePolicy(RegimePolicyConfig(axis="vol", metric_below=100.0))
    item = strict.evaluate(brain, slot, now=T0, labels=labels_until(300))
    assert item is not None and "< 100 over 150 bars" in item.reason and item.evidence["axis"] == "vol"


def test_the_policy_reads_the_labels_slot_regimes_stores(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        brain.promote_version(GOOG, 1, actor="alice", reason="a champion")
        labels = slot_regimes(brain, GOOG)
        trend = labels["trend"].drop_nulls().to_list()
        since = next(i for i, label in enumerate(reversed(trend)) if label != trend[-1])
        assert since >= 2
        slot = brain.get_slot(GOOG)
        assert RegimePolicy(RegimePolicyConfig(recent_bars=since - 1, metric_below=100.0)).evaluate(
            brain, slot, now=T0) is None  # the change is older than that
        item = RegimePolicy(RegimePolicyConfig(recent_bars=since, metric_below=100.0)).evaluate(
            brain, slot, now=T0)
        assert item is not None and item.evidence["regime"] == trend[-1]
        assert item.evidence["bars_since_change"] == since


def test_the_policy_is_configured_beside_the_others(tmp_path):
    path = tmp_path / "huracan.yaml"
    path.write_text("policies:\n  regime: {cooldown: 6h, recent_bars: 3, metric_below: 0.5, source: live}\n"
                    "regime_map: {metric: mean_bps, min_samples: 50}\n", encoding="utf-8")
    config = load_config(path)
    assert config.policies.regime.cooldown == 6 * 3600 and config.policies.regime.source == "live"
    assert config.regime_map.metric == "mean_bps" and config.regime_map.min_samples == 50
    assert HuracanConfig(policies=PoliciesConfig()).policies.regime.enabled
    path.write_text("regime_map: {metric: sortino}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="regime_map.metric: Input should be 'sharpe', 'win_rate' or"):
        load_config(path)


def test_the_live_loop_runs_the_policy_and_stores_live_metrics_by_regime(any_brain_url):
    from engine.data import load_ohlcv
    from engine.datasets import bundled_path
    from scheduler.config import TrainingConfig
    from scheduler.services.feeds import ReplayFeed
    from scheduler.services.live import LiveState, live_tick
    from scheduler.services.regime_map import stored_regime_metrics
    from scheduler.services.training import train_slot

    config = HuracanConfig.model_validate({
        "policies": {"retrain": {"min_samples": 1000},  # out of the way: one open retrain item per slot
                     "regime": {"recent_bars": 100000, "metric_below": 100.0}},
        "regime_map": {"min_samples": 3},
    })
    with open_brain(any_brain_url) as brain:
        brain.store_bars("GOOG", "1d", load_ohlcv(bundled_path("GOOG"), symbol="GOOG").head(300))
        train_slot(brain, "GOOG", "1d", TrainingConfig(models=["linear"], n_folds=2))
        feed, state = ReplayFeed(bundled_path("GOOG"), "GOOG", "1d", speed=5), LiveState()

        def live_bars_by_regime() -> float:
            stored = stored_regime_metrics(brain, brain.champion(GOOG), "live")
            return sum(values["n"] for (axis, regime), values in stored.items()
                       if axis == "trend" and regime != "trending")

        reports = [live_tick(brain, config, [feed], state=state, now=T0)]
        matured = len(brain.list_predictions(GOOG, matured=True))
        assert matured > 0 and live_bars_by_regime() == matured  # each matured forecast, by its bar's regime
        reports += [live_tick(brain, config, [feed], state=state, now=T0) for _ in range(2)]
        # Fewer than a window (50) matured since: not read again yet.
        assert live_bars_by_regime() == matured < len(brain.list_predictions(GOOG, matured=True))
        (item,) = brain.list_queue("retrain", slot_key=GOOG)
        assert item.rule == "regime_weak_champion" and item.id in [i for r in reports for i in r.queued]
        assert "< 100 over" in item.reason


def test_live_metrics_by_regime_are_labelled_by_the_configured_labelling(any_brain_url):
    from collections import Counter

    from engine.data import load_ohlcv
    from engine.datasets import bundled_path
    from engine.regimes import RegimeConfig, label_regimes
    from scheduler.config import TrainingConfig
    from scheduler.services.feeds import ReplayFeed
    from scheduler.services.live import LiveState, live_tick
    from scheduler.services.regime_map import stored_regime_metrics
    from scheduler.services.training import train_slot

    configured = RegimeConfig(adx_threshold=12.0, adx_period=7)
    config = HuracanConfig.model_validate({"policies": {"retrain": {"min_samples": 1000}},
                                           "regimes": configured.model_dump(mode="json")})
    with open_brain(any_brain_url) as brain:
        brain.store_bars("GOOG", "1d", load_ohlcv(bundled_path("GOOG"), symbol="GOOG").head(300))
        train_slot(brain, "GOOG", "1d", TrainingConfig(models=["linear"], n_folds=2))
        feed = ReplayFeed(bundled_path("GOOG"), "GOOG", "1d", speed=40)
        live_tick(brain, config, [feed], state=LiveState(), now=T0)
        matured = [row.ts for row in brain.list_predictions(GOOG, matured=True)]
        bars = brain.load_bars("GOOG", "1d")

        def counts(labelling: RegimeConfig) -> dict[str, int]:
            labels = label_regimes(bars, labelling)
            by_bar = dict(zip(labels["ts"].to_list(), labels["trend"].to_list(), strict=True))
            return dict(Counter(by_bar[ts] for ts in matured if by_bar.get(ts) is not None))

        stored = stored_regime_metrics(brain, brain.champion(GOOG), "live")
        live = {regime: int(values["n"]) for (axis, regime), values in stored.items()
                if axis == "trend" and regime in ("trending_up", "trending_down", "ranging")}
        assert matured and live == counts(configured) != counts(RegimeConfig())

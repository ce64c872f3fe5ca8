"""Automatic feature selection for the next retrain: the policy keeps the top-k recipe columns by
the champion's ranks of its method, the new version's spec records the choice, and the version
trains and serves on exactly those columns."""

import pytest

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.features import FEATURES
from scheduler.config import SelectionPolicy, TrainingConfig
from scheduler.services.selection import selected_columns
from scheduler.services.training import train_slot

SLOT = "GOOG:1d:fwd_ret_1"


@pytest.fixture
def brain(any_brain_url):
    with open_brain(any_brain_url) as brain:
        brain.store_bars("GOOG", "1d", load_ohlcv(bundled_path("GOOG"), symbol="GOOG"))
        yield brain


def test_the_next_retrain_keeps_the_champions_top_k_and_records_it(brain):
    policy = SelectionPolicy(method="native", top_k=3)
    config = TrainingConfig(
        models=["lightgbm"], n_folds=2, selection=policy, params={"lightgbm": {"n_estimators": 20}}
    )
    assert selected_columns(brain, SLOT, policy, FEATURES) is None  # nothing ranked yet
    (first,) = train_slot(brain, "GOOG", "1d", config)
    assert first.manifest["spec"]["features"]["columns"] is None and len(first.manifest["features"]) == 8
    brain.promote_version(SLOT, first.number, actor="alice", reason="test")

    ranks = {row["feature"]: row["rank"] for row in brain.feature_importance(first.id, "native")}
    best = sorted(FEATURES, key=ranks.get)[:3]
    (second,) = train_slot(brain, "GOOG", "1d", config)
    kept = second.manifest["spec"]["features"]["columns"]
    assert set(kept) == set(best) and kept == [name for name in FEATURES if name in best]  # recipe order
    assert second.manifest["features"] == kept  # the model trained on exactly those
    assert second.manifest["spec_sha256"] != first.manifest["spec_sha256"]


def test_a_method_no_version_has_selects_nothing(brain):
    train_slot(brain, "GOOG", "1d", TrainingConfig(models=["linear"], n_folds=2))
    assert selected_columns(brain, SLOT, SelectionPolicy(method="shap", top_k=2), FEATURES) is None


def test_the_champions_ranks_win_else_the_newest_unpruned_version_with_the_method(brain):
    config = TrainingConfig(models=["linear"], n_folds=2)
    first, second, third = (train_slot(brain, "GOOG", "1d", config)[0] for _ in range(3))
    policy = SelectionPolicy(method="permutation", top_k=2)
    recipe_order = list(FEATURES)
    rising = {name: float(index) for index, name in enumerate(recipe_order)}
    # Permutation ranks planted by hand: v1 likes the last two columns, v2 the first two.
    brain.record_feature_importance(first.id, "permutation", rising)
    brain.record_feature_importance(second.id, "permutation", {n: -v for n, v in rising.items()})
    # No champion yet: the newest version that has permutation ranks (v3 has none).
    assert selected_columns(brain, SLOT, policy, FEATURES) == tuple(recipe_order[:2])
    brain.promote_version(SLOT, first.number, actor="alice", reason="test")
    assert selected_columns(brain, SLOT, policy, FEATURES) == tuple(recipe_order[-2:])  # the champion's
    brain.promote_version(SLOT, third.number, actor="alice", reason="test", force=True)  # no ranks
    brain.prune_version(SLOT, second.number, actor="alice", reason="test")
    assert selected_columns(brain, SLOT, policy, FEATURES) == tuple(recipe_order[-2:])  # v2 is pruned


def test_columns_the_ranks_do_not_know_come_last_and_top_k_caps_at_the_recipe(brain):
    (version,) = train_slot(brain, "GOOG", "1d", TrainingConfig(models=["linear"], n_folds=2))
    brain.record_feature_importance(version.id, "native", {"rsi_14": 3.0, "ret_1": 2.0, "vol_20": 1.0})
    grown = ["new_column", *FEATURES]  # a recipe that gained a column since the ranks were stored
    kept = selected_columns(brain, SLOT, SelectionPolicy(method="native", top_k=4), grown)
    # The three ranked columns, then the first unranked one in recipe order; all in recipe order.
    assert kept == ("new_column", "ret_1", "vol_20", "rsi_14")
    everything = selected_columns(brain, SLOT, SelectionPolicy(method="native", top_k=99), grown)
    assert everything == tuple(grown)

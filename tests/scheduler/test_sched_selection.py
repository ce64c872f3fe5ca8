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

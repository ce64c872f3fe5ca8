"""An ensemble version in the product path, on real brains (SQLite and PostgreSQL): trained from
member versions of a slot and stored, compared in A/B on both sides, promoted, and served by the
live loop with forecasts equal to the combination of its members' own predictions; bad members
are refused in one line and nothing is written."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.ensembles.version import DOCUMENT_FORMAT, EnsembleError
from engine.serving import load_servable
from scheduler.config import HuracanConfig, TrainingConfig
from scheduler.services.comparison import compare_versions
from scheduler.services.ensembles import train_ensemble
from scheduler.services.feeds import ReplayFeed
from scheduler.services.live import LiveState, live_tick
from scheduler.services.training import train_slot

SLOT = "GOOG:1d:fwd_ret_1"
TRAIN_BARS = 300
NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture
def brain(any_brain_url):
    goog = load_ohlcv(bundled_path("GOOG"), symbol="GOOG")
    brain = open_brain(any_brain_url)
    brain.store_bars("GOOG", "1d", goog.head(TRAIN_BARS))
    train_slot(brain, "GOOG", "1d", TrainingConfig(models=["linear", "knn"], n_folds=3))
    yield brain
    brain.close()


def servable(brain, version):
    return load_servable(version.manifest, brain.load_artifact(version.artifact_sha256),
                         sha256=version.artifact_sha256, load_artifact=brain.load_artifact)


def test_an_ensemble_is_stored_compared_promoted_and_served_live(brain):
    brain.promote_version(SLOT, 1, actor="alice", reason="first model")
    version = train_ensemble(brain, SLOT, [1, 2], "stacking", actor="alice")
    assert (version.number, version.model_kind) == (3, "ensemble")
    members = [brain.get_version(SLOT, n) for n in (1, 2)]
    artifact = json.loads(brain.load_artifact(version.artifact_sha256))
    assert artifact["format"] == DOCUMENT_FORMAT and artifact["method"] == "stacking"
    assert [(m["number"], m["version_id"], m["artifact_sha256"]) for m in artifact["members"]] == [
        (m.number, m.id, m.artifact_sha256) for m in members
    ]
    assert version.manifest["slot"] == SLOT and version.manifest["spec"]["model"]["kind"] == "ensemble"
    assert version.data_end == max(m.data_end for m in members)
    stored = {m.name: m.value for m in brain.version_metrics(version.id) if m.fold is None}
    assert stored["sharpe"] == pytest.approx(version.manifest["metrics"]["sharpe"])
    assert {m.fold for m in brain.version_metrics(version.id)} == {None, 0, 1, 2}
    assert brain.list_audit(limit=1)[0].details["model_kind"] == "ensemble"

    # A/B with the ensemble as challenger, then as the defender: its replay rebuilds its members.
    against = compare_versions(brain, SLOT, 1, [3], n_boot=50)
    assert against["challengers"] == [3] and against["periods"] > 30
    defended = compare_versions(brain, SLOT, 3, [2], n_boot=50)
    assert defended["champion"] == 3 and defended["periods"] == version.manifest["metrics"]["n"]
    promotion = brain.promote_version(SLOT, 3, actor="alice", reason="blend the two", force=True)
    assert brain.champion(SLOT).number == 3 and (promotion.version, promotion.previous_version) == (3, 1)

    state = LiveState()
    feed = ReplayFeed(bundled_path("GOOG"), "GOOG", "1d", speed=5)
    for _ in range(4):
        live_tick(brain, HuracanConfig(), [feed], state=state, now=NOW)
    everything = brain.list_predictions(SLOT, limit=200)
    # The champion it replaced forecasts the same bars as a shadow while the promotion is judged.
    assert {row.version_id for row in everything} == {version.id, members[0].id}
    rows = [row for row in everything if row.version_id == version.id]
    assert len(rows) >= 20

    # The live forecasts are the stored combination of the members' own batch predictions.
    bars = brain.load_bars("GOOG", "1d")
    own = [servable(brain, member).predict_frame(bars) for member in members]
    by_bar = [dict(zip(o["ts"].to_list(), o["prediction"].to_list(), strict=True)) for o in own]
    params = version.manifest["params"]
    weights, intercept = np.asarray(params["weights"]), params["intercept"]
    expected = [np.asarray([b[row.ts] for b in by_bar]) @ weights + intercept for row in rows]
    np.testing.assert_allclose([row.batch for row in rows], expected, rtol=1e-9, atol=1e-9)
    # The online learner beside it learns from the members' forecasts (one input per member).
    assert state.learners[SLOT].model.n_features_in_ == 2
    assert any(row.online is not None for row in rows)


def test_members_that_cannot_be_combined_are_refused_and_nothing_is_written(brain):
    train_slot(brain, "GOOG", "1d", TrainingConfig(models=["linear"], target="net_edge", n_folds=3))
    first = train_ensemble(brain, SLOT, [1, 2], "average")
    before = {key: len(brain.list_versions(key)) for key in (SLOT, "GOOG:1d:net_edge_1")}
    refusals = {
        (SLOT, (1, 9), "average"): "members: GOOG:1d:fwd_ret_1 has no version 9 (versions: [1, 2, 3])",
        (SLOT, (1,), "average"): "at least 2 versions, got 1",
        (SLOT, (1, 1), "average"): "a version repeats",
        (SLOT, (1, first.number), "average"): f"v{first.number} is an ensemble itself",
        ("GOOG:1d:net_edge_1", (1, 2), "average"):
            "GOOG:1d:fwd_ret_1 has one, but members come from one slot",
        ("GOOG:1d:nope_1", (1, 2), "average"): "no slot GOOG:1d:nope_1",
        (SLOT, (1, 2), "median"): "method 'median': one of average, performance_weighted",
    }
    for (slot, members, method), words in refusals.items():
        with pytest.raises(EnsembleError) as refused:
            train_ensemble(brain, slot, list(members), method)
        assert words in str(refused.value) and "\n" not in str(refused.value)
    assert {key: len(brain.list_versions(key)) for key in before} == before


def test_a_retrain_blends_the_fresh_versions_and_an_ensemble_champion_retrains_as_one(brain):
    from scheduler.services.training import slot_training

    config = HuracanConfig(training=TrainingConfig(models=["linear", "knn"], n_folds=3, recipe="full",
                                                   preprocessing=[{"step": "scale"}], ensemble="optimised"))
    versions = train_slot(brain, "GOOG", "1d", config.training)
    assert [(v.number, v.model_kind) for v in versions] == [(3, "linear"), (4, "knn"), (5, "ensemble")]
    assert versions[2].manifest["spec"]["ensemble"] == {"members": [3, 4], "method": "optimised"}

    # The ensemble is champion: its retrain takes its newest member's spec and its own method.
    brain.promote_version(SLOT, 5, actor="alice", reason="blend", force=True)
    plain = HuracanConfig(training=TrainingConfig(models=["linear", "knn"], n_folds=3))
    again = slot_training(plain, brain, brain.get_slot(SLOT))
    assert again.ensemble == "optimised" and again.recipe == "full"
    assert [step.model_dump(mode="json")["step"] for step in again.preprocessing] == ["scale"]
    fresh = train_slot(brain, "GOOG", "1d", again)
    assert [v.model_kind for v in fresh] == ["linear", "knn", "ensemble"]
    assert fresh[2].manifest["params"]["members"][0]["number"] == fresh[0].number

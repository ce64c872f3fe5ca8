"""A regime-router version in the product path, on real brains (SQLite and PostgreSQL): trained
from member versions of a slot on the slot's stored causal labels, compared in A/B on both sides
(its replay rebuilds its training numbers from its own labelling config), promoted, served by
the live loop with each new bar's label, and rolled back like any version; bad input is refused
in one line and nothing is written."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.ensembles.version import EnsembleError
from engine.regimes import RegimeConfig
from engine.regimes.router import DOCUMENT_FORMAT, RouterError, Routing
from engine.serving import load_servable
from scheduler.config import HuracanConfig, TrainingConfig
from scheduler.services.comparison import compare_versions
from scheduler.services.ensembles import newest_of_each_kind, train_ensemble
from scheduler.services.feeds import ReplayFeed
from scheduler.services.live import LiveState, live_tick
from scheduler.services.regimes import slot_regimes
from scheduler.services.router import train_router
from scheduler.services.training import train_slot

SLOT = "GOOG:1d:fwd_ret_1"
TRAIN_BARS = 300
NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
# Labels from the 30th bar on, so that each of the 3 folds' out-of-fold rows carries labels.
REGIMES = RegimeConfig(min_history=30, adx_threshold=20.0)


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


def test_a_router_is_stored_compared_promoted_served_live_and_rolled_back(brain):
    brain.promote_version(SLOT, 1, actor="alice", reason="first model")
    version = train_router(brain, SLOT, [1, 2], axis="trend", min_rows=10, regimes=REGIMES, actor="alice")
    assert (version.number, version.model_kind) == (3, "regime_router")
    members = [brain.get_version(SLOT, n) for n in (1, 2)]
    artifact = json.loads(brain.load_artifact(version.artifact_sha256))
    assert artifact["format"] == DOCUMENT_FORMAT and artifact["axis"] == "trend"
    assert [(m["number"], m["version_id"], m["artifact_sha256"]) for m in artifact["members"]] == [
        (m.number, m.id, m.artifact_sha256) for m in members
    ]
    router = version.manifest["spec"]["router"]
    assert router["members"] == [1, 2] and RegimeConfig.model_validate(router["regimes"]) == REGIMES
    assert set(artifact["routes"]) <= {"trending_up", "trending_down", "ranging"} and artifact["routes"]
    stored = {m.name: m.value for m in brain.version_metrics(version.id) if m.fold is None}
    assert stored["sharpe"] == pytest.approx(version.manifest["metrics"]["sharpe"])
    assert brain.list_audit(limit=1)[0].details["model_kind"] == "regime_router"

    # A/B with the router as challenger, then as the defender: its replay relabels the bars under
    # its own config and rebuilds every out-of-sample row training scored.
    against = compare_versions(brain, SLOT, 1, [3], n_boot=50)
    assert against["challengers"] == [3] and against["periods"] > 30
    defended = compare_versions(brain, SLOT, 3, [2], n_boot=50)
    assert defended["champion"] == 3 and defended["periods"] == version.manifest["metrics"]["n"]
    promotion = brain.promote_version(SLOT, 3, actor="alice", reason="switch by trend", force=True)
    assert brain.champion(SLOT).number == 3 and (promotion.version, promotion.previous_version) == (3, 1)

    state = LiveState()
    feed = ReplayFeed(bundled_path("GOOG"), "GOOG", "1d", speed=5)
    for _ in range(7):  # 35 new bars: trending up, then down
        live_tick(brain, HuracanConfig(), [feed], state=state, now=NOW)
    rows = [row for row in brain.list_predictions(SLOT, limit=200) if row.version_id == version.id]
    assert len(rows) >= 30

    # Each live forecast is its members' own forecasts routed by the bar's stored causal label.
    bars = brain.load_bars("GOOG", "1d")
    own = [servable(brain, member).predict_frame(bars) for member in members]
    by_bar = [dict(zip(o["ts"].to_list(), o["prediction"].to_list(), strict=True)) for o in own]
    labels = slot_regimes(brain, SLOT, config=REGIMES)
    label_of = dict(zip(labels["ts"].to_list(), labels["trend"].to_list(), strict=True))
    routing = Routing.from_json(artifact)
    expected = [np.asarray([b[row.ts] for b in by_bar]) @ np.asarray(routing.weights_for(label_of[row.ts]))
                for row in rows]
    np.testing.assert_allclose([row.batch for row in rows], expected, rtol=1e-9, atol=1e-9)
    assert {label_of[row.ts] for row in rows} >= {"trending_up", "trending_down"}  # routed by a new label
    assert state.learners[SLOT].model.n_features_in_ == 2  # the learner reads the members' forecasts

    # Rolled back like any version: the member it replaced forecasts the next bars.
    brain.rollback(SLOT, actor="alice", reason="back to the linear model")
    assert brain.champion(SLOT).number == 1
    before = {row.ts for row in brain.list_predictions(SLOT, limit=500) if row.version_id == members[0].id}
    live_tick(brain, HuracanConfig(), [feed], state=state, now=NOW)
    after = [row for row in brain.list_predictions(SLOT, limit=500) if row.version_id == members[0].id]
    assert {row.ts for row in after} - before
    assert max(row.ts for row in after) > max(row.ts for row in rows)


def test_the_consoles_router_retrain_queues_a_router_job_and_bad_input_is_one_line(brain):
    # The console's retrain dialog with its "regime router" kind: a retrain request, carried out as
    # the leader does, queues an ensemble job of the newest of each plain kind, which a worker runs.
    from huracan_tui.console.screens.retrain import RetrainChoice, kind_options
    from scheduler.daemon.runners import RUNNERS
    from scheduler.services.requests import RequestContext, carry_out_request
    from tests.grants import grant_quietly

    offered = {value: label for label, value in kind_options({}, "fwd_ret")}
    assert offered["ensemble:regime_router"].startswith("regime router · newest of each kind")
    grant_quietly(brain, "alice")
    args = RetrainChoice(kind="ensemble:regime_router", device="cpu", cadence="full").command_args(SLOT)
    request = brain.submit_request("retrain", args, actor="alice", role="operator")
    # The house's labelling config travels with the job: the router routes on it.
    config = HuracanConfig(regimes=RegimeConfig(adx_threshold=20.0))
    done = carry_out_request(RequestContext(brain, config, handler="leader test:1"), request)
    assert done.state == "done", done.outcome
    job = brain.get_job(done.result["job"])
    assert (job.kind, job.params) == ("ensemble", {"members": [1, 2], "method": "regime_router",
                                                   "regimes": config.regimes.model_dump(mode="json")})
    RUNNERS[job.kind](brain, job, lambda *_: None)
    first = brain.latest_version(SLOT)
    assert first.model_kind == "regime_router" and first.manifest["spec"]["router"]["axis"] == "trend"
    assert first.manifest["spec"]["router"]["regimes"]["adx_threshold"] == 20.0
    assert newest_of_each_kind(brain, SLOT) == [1, 2]  # a router is never a member by default
    before = len(brain.list_versions(SLOT))
    refusals = [
        ((1, 9), {}, f"members: {SLOT} has no version 9 (versions: [1, 2, 3])"),
        ((1,), {}, "a router needs at least 2 versions, got 1"),
        ((1, first.number), {}, "v3 is a router itself"),
        ((1, 2), {"method": "median"}, "method 'median': one of select, weighted"),
        ((1, 2), {"min_rows": 0}, "min rows 0: a whole number >= 1"),
        ((1, 2), {"axis": "hmm"}, "axis hmm: the labelling config has no hmm_states"),
        ((1, 2), {"regimes": {"vol_quantiles": [0.7, 0.3]}}, "the first must be below the second"),
    ]
    for members, options, words in refusals:
        with pytest.raises(RouterError) as refused:
            train_router(brain, SLOT, list(members), **options)
        assert words in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(EnsembleError, match="no slot GOOG:1d:nope_1"):
        train_ensemble(brain, "GOOG:1d:nope_1", [1, 2], "regime_router")
    assert len(brain.list_versions(SLOT)) == before

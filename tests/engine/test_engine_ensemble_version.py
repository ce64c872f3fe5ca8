"""An ensemble version from member versions trained on GOOG daily bars: its weights are fitted on
the members' out-of-fold predictions only (fold k's on folds before k), its artifact is JSON, it
serves the combination of its members' own forecasts, and an A/B replay of it rebuilds the
numbers training reported."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from engine.abtest import replay_predictions, replay_returns
from engine.ensembles.version import (
    ARTIFACT_FORMAT,
    DOCUMENT_FORMAT,
    Combination,
    EnsembleError,
    MemberVersion,
    fit_combination,
    train_ensemble_version,
    walk_forward,
)
from engine.manifest import Manifest
from engine.metrics import sharpe_ratio
from engine.serving import load_servable
from engine.spec import ENSEMBLE_METHODS
from engine.training import train_model

BARS = 400


@pytest.fixture(scope="module")
def frame(goog):
    return goog.head(BARS)


@pytest.fixture(scope="module")
def trained(frame):
    """Two member versions (a linear and a KNN regressor) as the brain would hand them out."""
    results = [train_model(frame, kind, timeframe="1d", n_folds=3) for kind in ("linear", "knn")]
    members = []
    for number, result in enumerate(results, start=1):
        sha = hashlib.sha256(result.artifact).hexdigest()
        manifest = {**result.manifest.to_json(), "artifact_sha256": sha}
        members.append(MemberVersion(number, 100 + number, sha, manifest))
    artifacts = {m.artifact_sha256: result.artifact for m, result in zip(members, results, strict=True)}
    return members, artifacts


@pytest.mark.parametrize("method", ENSEMBLE_METHODS)
def test_each_folds_weights_are_fitted_on_the_folds_before_it_only(frame, trained, method):
    members, _ = trained
    result = train_ensemble_version(frame, members, method)
    manifest = result.manifest
    assert manifest.model_kind == "ensemble" and manifest.artifact_format == ARTIFACT_FORMAT
    assert manifest.spec["ensemble"] == {"members": [1, 2], "method": method}

    # Rebuilt independently: each member replayed on the newest member's folds, refitted per fold.
    layout = Manifest.from_json(members[-1].manifest).folds
    replays = [replay_predictions(frame, member.manifest, layout) for member in members]
    forecasts = [np.column_stack([r[k].prediction for r in replays]) for k in range(len(layout))]
    targets = [replays[0][k].target for k in range(len(layout))]
    next_ret = [replays[0][k].next_ret for k in range(len(layout))]
    stored = manifest.params["fold_weights"]
    assert stored[0]["weights"] == [0.5, 0.5] and stored[0]["intercept"] == 0.0  # nothing seen yet
    for k in range(1, len(layout)):
        expected = fit_combination(method, np.vstack(forecasts[:k]), np.concatenate(targets[:k]),
                                   np.concatenate(next_ret[:k]), manifest.cost_bps, 252.0)
        np.testing.assert_allclose(stored[k]["weights"], expected.weights, rtol=0, atol=1e-12)
        assert stored[k]["intercept"] == pytest.approx(expected.intercept, abs=1e-9)
    final = fit_combination(method, np.vstack(forecasts), np.concatenate(targets), np.concatenate(next_ret),
                            manifest.cost_bps, 252.0)
    np.testing.assert_allclose(manifest.params["weights"], final.weights, rtol=0, atol=1e-12)

    # Each fold is scored with the weights it was predicted with, as the fold's metrics say.
    for k, fold in enumerate(manifest.folds):
        combination = Combination(method, tuple(stored[k]["weights"]), stored[k]["intercept"])
        assert fold.metrics["n"] == forecasts[k].shape[0]
        assert fold.metrics["rmse"] == pytest.approx(
            float(np.sqrt(np.mean((combination.apply(forecasts[k]) - targets[k]) ** 2))), rel=1e-12)


def test_a_later_fold_never_moves_an_earlier_folds_weights(frame, trained):
    """The walk-forward's honesty as behaviour: scramble fold 2's member forecasts and outcomes,
    and the combinations folds 0..2 were predicted with stay exactly as they were."""
    members, _ = trained
    layout = Manifest.from_json(members[-1].manifest).folds
    replays = [replay_predictions(frame, member.manifest, layout) for member in members]
    honest, _ = walk_forward("stacking", replays, task="regression", threshold_bps=0.0, cost_bps=1.0,
                             bars_per_year=252.0)
    rng = np.random.default_rng(0)
    tampered = [
        [*member[:2], type(member[2])(member[2].timestamps, rng.normal(0, 50, len(member[2].timestamps)),
                                      rng.normal(0, 50, len(member[2].timestamps)), member[2].next_ret[::-1],
                                      member[2].fwd)]
        for member in replays
    ]
    scrambled, _ = walk_forward("stacking", tampered, task="regression", threshold_bps=0.0, cost_bps=1.0,
                                bars_per_year=252.0)
    assert [f.combination for f in honest] == [f.combination for f in scrambled]
    assert honest[2].combination != honest[1].combination  # fold 1's forecasts did teach fold 2


def test_the_artifact_is_json_and_serves_the_members_combination(frame, trained):
    members, artifacts = trained
    result = train_ensemble_version(frame, members, "optimised")
    document = json.loads(result.artifact)
    assert document["format"] == DOCUMENT_FORMAT and document["method"] == "optimised"
    assert [(m["number"], m["version_id"], m["artifact_sha256"]) for m in document["members"]] == [
        (m.number, m.version_id, m.artifact_sha256) for m in members
    ]
    assert document["weights"] == result.manifest.params["weights"]

    sha = hashlib.sha256(result.artifact).hexdigest()
    serving = load_servable(result.manifest.to_json(), result.artifact, sha256=sha,
                            load_artifact=artifacts.__getitem__)
    assert serving.inputs == ["v1", "v2"]
    served = serving.predict_frame(frame)
    own = [load_servable(m.manifest, artifacts[m.artifact_sha256], sha256=m.artifact_sha256,
                         load_artifact=artifacts.__getitem__).predict_frame(frame) for m in members]
    assert served["ts"].to_list() == own[0]["ts"].to_list() == own[1]["ts"].to_list()
    expected = np.column_stack([o["prediction"].to_numpy() for o in own]) @ np.asarray(document["weights"])
    np.testing.assert_allclose(served["prediction"].to_numpy(), expected, rtol=1e-12, atol=1e-9)

    with pytest.raises(ValueError, match="sha256"):
        load_servable(result.manifest.to_json(), result.artifact + b" ", sha256=sha,
                      load_artifact=artifacts.__getitem__)
    swapped = {**result.manifest.to_json()}
    swapped["params"] = {**swapped["params"], "members": list(reversed(swapped["params"]["members"]))}
    with pytest.raises(EnsembleError, match="members are not the ones"):
        load_servable(swapped, result.artifact, sha256=sha, load_artifact=artifacts.__getitem__)


def test_an_ab_replay_of_the_ensemble_rebuilds_its_training_numbers(frame, trained):
    members, _ = trained
    result = train_ensemble_version(frame, members, "performance_weighted")
    manifest = result.manifest.to_json()
    stamps, returns = replay_returns(frame, manifest, manifest["folds"])
    assert len(stamps) == result.manifest.metrics["n"]
    assert sharpe_ratio(returns, 252.0) == pytest.approx(result.manifest.metrics["sharpe"], rel=1e-12)


def test_members_that_cannot_be_combined_are_refused_in_one_line(frame, trained):
    members, _ = trained
    with pytest.raises(EnsembleError, match="at least 2"):
        train_ensemble_version(frame, members[:1], "average")
    ensemble = train_ensemble_version(frame, members, "average")
    nested = MemberVersion(3, 103, "0" * 64, ensemble.manifest.to_json())
    with pytest.raises(EnsembleError, match="v3 is an ensemble itself"):
        train_ensemble_version(frame, [*members, nested], "average")
    classifier = train_model(frame, "logistic", timeframe="1d", n_folds=3)
    direction = MemberVersion(4, 104, "1" * 64, classifier.manifest.to_json())
    with pytest.raises(EnsembleError, match="members must learn the same target") as refused:
        train_ensemble_version(frame, [members[0], direction], "average")
    assert "\n" not in str(refused.value)

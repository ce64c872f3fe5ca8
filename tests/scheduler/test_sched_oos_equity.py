"""Each version stores its walk-forward out-of-sample predictions (issue 14), so the slot detail
draws its equity curve without a refit: the drawn curve's Sharpe is the version's stored
out-of-sample Sharpe, for plain kinds trained by the real pipeline, an ensemble, a classifier,
an online learner, a neural kind and an incremental retrain."""

from __future__ import annotations

import numpy as np
import pytest

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.metrics import periods_per_year
from engine.training import train_model
from scheduler.services.ensembles import train_ensemble
from scheduler.services.equity import equity_curve, version_equity
from tests.scheduler.test_sched_equity import GOOG


def forget_oos_predictions(url: str, slot_key: str, number: int) -> None:
    """Make version `number` look trained before the brain stored out-of-sample predictions."""
    from sqlalchemy import delete

    from brain.schema import version_oos_predictions

    with open_brain(url) as brain, brain._write() as conn:  # test set-up: rewrite history directly
        version_id = brain.get_version(slot_key, number).id
        rows = version_oos_predictions
        conn.execute(delete(rows).where(rows.c.version_id == version_id))


def stored_sharpe(brain, version) -> float:
    (sharpe,) = [m.value for m in brain.version_metrics(version.id, scope="oos")
                 if m.name == "sharpe" and m.fold is None]
    return sharpe


def test_each_seeded_versions_curve_ends_at_its_stored_out_of_sample_sharpe(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        versions = [v for slot in brain.list_slots() for v in brain.list_versions(slot.key)]
        assert len(versions) == 4  # linear and lightgbm of GOOG:1d and EURUSD:1h
        for version in versions:
            curve = version_equity(brain, version.slot_key, version.number).walk_forward
            rows = brain.oos_predictions(version.id)
            assert curve is not None, version
            assert curve.sharpe == pytest.approx(stored_sharpe(brain, version), rel=1e-9, abs=1e-12)
            assert len(curve.timestamps) == len(rows) == version.manifest["metrics"]["n"]
            folds = version.manifest["folds"]
            assert curve.timestamps[0] == rows.ts[0]
            assert rows.ts[0].isoformat() == folds[0]["test_start_ts"]
            assert rows.ts[-1].isoformat() == folds[-1]["test_end_ts"]
            assert set(rows.fold) == {fold["index"] for fold in folds}
            assert curve.buy_and_hold_return == pytest.approx(float(np.prod(1 + np.array(rows.next_ret)) - 1))


def test_an_ensembles_curve_is_its_blended_walk_forward_and_ends_at_its_stored_sharpe(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        ensemble = train_ensemble(brain, GOOG, [1, 2], "performance_weighted", actor="alice")
        curve = version_equity(brain, GOOG, ensemble.number).walk_forward
        rows = brain.oos_predictions(ensemble.id)
        sharpe = stored_sharpe(brain, ensemble)
        members = [brain.oos_predictions(brain.get_version(GOOG, n).id) for n in (1, 2)]
    assert curve is not None and curve.sharpe == pytest.approx(sharpe, rel=1e-9)
    assert len(rows) == ensemble.manifest["metrics"]["n"]
    assert rows.prediction != members[0].prediction and rows.prediction != members[1].prediction
    # fold 0 is predicted with equal weights (nothing before it to learn from): the members' mean
    first = [i for i, fold in enumerate(rows.fold) if fold == 0]
    mean = (np.array(members[0].prediction)[first] + np.array(members[1].prediction)[first]) / 2
    assert np.array(rows.prediction)[first] == pytest.approx(mean, rel=1e-9)


def test_a_version_trained_before_they_were_stored_has_no_walk_forward_curve(seeded_brain_url):
    forget_oos_predictions(seeded_brain_url, GOOG, 2)
    with open_brain(seeded_brain_url) as brain:
        assert version_equity(brain, GOOG, 2).walk_forward is None
        assert version_equity(brain, GOOG, 1).walk_forward is not None


@pytest.fixture(scope="module")
def goog():
    return load_ohlcv(bundled_path("GOOG"), symbol="GOOG").tail(260)


TINY_NEURAL = {"lookback": 6, "hidden_size": 8, "num_layers": 1, "max_epochs": 2, "batch_size": 64}


@pytest.mark.parametrize(("kind", "params"), [
    ("logistic", {}), ("river_linear", {}), ("lstm", TINY_NEURAL),
])
def test_every_kind_hands_over_the_rows_its_sharpe_was_computed_from(goog, kind, params):
    result = train_model(goog, kind, timeframe="1d", n_folds=2, cost_bps=2.0, params=params)
    rows, manifest = result.out_of_sample, result.manifest
    assert len(rows) == manifest.metrics["n"] == sum(f.test_end - f.test_start for f in manifest.folds)
    curve = equity_curve(rows.timestamps, rows.prediction, rows.next_ret, cost_bps=2.0,
                         periods_per_year=periods_per_year("1d"))
    assert curve.sharpe == pytest.approx(manifest.metrics["sharpe"], rel=1e-9)
    assert rows.fold.tolist() == sorted(rows.fold.tolist()) and set(rows.fold.tolist()) == {0, 1}


def test_an_incremental_retrain_hands_over_its_one_fold(goog):
    first = train_model(goog.head(200), "lightgbm", timeframe="1d", n_folds=2,
                        params={"n_estimators": 20})
    result = train_model(goog, "lightgbm", timeframe="1d", cadence="incremental", previous=first.artifact,
                         previous_data_end=first.manifest.data_end, params={"n_estimators": 20})
    rows = result.out_of_sample
    assert set(rows.fold.tolist()) == {0} and len(rows) == result.manifest.metrics["n"]
    assert min(rows.timestamps) > first.manifest.data_end
    curve = equity_curve(rows.timestamps, rows.prediction, rows.next_ret, cost_bps=1.0,
                         periods_per_year=periods_per_year("1d"))
    assert curve.sharpe == pytest.approx(result.manifest.metrics["sharpe"], rel=1e-9)

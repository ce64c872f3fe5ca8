"""The manifest is one typed record: datetimes inside, the stored JSON document outside, and every
manifest stored so far reads back."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from engine.manifest import FoldRecord, Manifest
from engine.models import load_model
from engine.training import train_model

# The keys of a manifest as scheduler.services.training stored them (asdict of the old
# TrainingResult, artifact removed, slot added), in that order.
STORED_KEYS = [
    "model_kind", "params", "features", "target", "horizon", "timeframe", "cost_bps", "seed", "folds",
    "metrics", "data_start", "data_end", "data_fingerprint", "n_rows", "library_versions",
    "artifact_format", "task", "cadence", "threshold_bps", "early_stopping", "warm_start_from", "determinism",
    "spec", "spec_sha256", "slot",
]
FOLD_KEYS = ["index", "train_start", "train_end", "test_start", "test_end", "metrics",
             "train_start_ts", "train_end_ts", "test_start_ts", "test_end_ts"]
# A manifest written before the zoo: no task, cadence, threshold, early stopping, warm start.
FOUNDATION = {
    "model_kind": "linear", "params": {"alpha": 1.0}, "features": ["rsi_14", "sma_20"],
    "target": "fwd_ret_1", "horizon": 1, "timeframe": "1d", "cost_bps": 1.0, "seed": 42,
    "folds": [{"index": 0, "train_start": 0, "train_end": 30, "test_start": 31, "test_end": 40,
               "metrics": {"sharpe": 0.5}, "train_start_ts": "2020-01-01T00:00:00+00:00",
               "train_end_ts": "2020-01-30T00:00:00+00:00", "test_start_ts": "2020-02-01T00:00:00+00:00",
               "test_end_ts": "2020-02-09T00:00:00+00:00"}],
    "metrics": {"sharpe": 0.5}, "data_start": "2020-01-01T00:00:00+00:00",
    "data_end": "2020-02-09T00:00:00+00:00", "data_fingerprint": "abc", "n_rows": 40,
    "library_versions": {"numpy": "2.0"}, "artifact_format": "skops", "slot": "GOOG:1d:fwd_ret_1",
    "artifact_sha256": "0" * 64,
}


@pytest.fixture(scope="module")
def trained(btc):
    return train_model(btc, "lightgbm", timeframe="1mo", params={"n_estimators": 20}, n_folds=3)


def test_times_are_utc_datetimes_and_iso_strings_only_in_json(trained):
    manifest = trained.manifest
    assert isinstance(manifest.data_start, datetime) and manifest.data_start.utcoffset().total_seconds() == 0
    assert all(isinstance(fold, FoldRecord) and isinstance(fold.test_start_ts, datetime)
               for fold in manifest.folds)
    document = manifest.for_slot("BTC:1mo:fwd_ret_1").to_json()
    assert list(document) == STORED_KEYS
    assert all(list(fold) == FOLD_KEYS for fold in document["folds"])
    assert document["data_start"] == manifest.data_start.isoformat()
    assert document["data_end"].endswith("+00:00") and document["warm_start_from"] is None
    assert document["folds"][0]["test_start_ts"] == manifest.folds[0].test_start_ts.isoformat()
    assert document["features"] == list(manifest.features)


def test_from_json_reads_what_to_json_wrote(trained):
    stored = {**trained.manifest.for_slot("BTC:1mo:fwd_ret_1").to_json(), "artifact_sha256": "f" * 64}
    manifest = Manifest.from_json(stored)
    assert manifest.to_json() == stored
    assert manifest == Manifest(**{**trained.manifest.__dict__, "slot": "BTC:1mo:fwd_ret_1",
                                   "artifact_sha256": "f" * 64})


def test_older_manifests_read_with_the_defaults_of_newer_keys():
    manifest = Manifest.from_json({**FOUNDATION, "written_by_a_newer_huracan": 1})
    assert (manifest.task, manifest.cadence, manifest.threshold_bps, manifest.early_stopping) == (
        "regression", "full", None, False
    )
    assert manifest.warm_start_from is None and manifest.artifact_sha256 == "0" * 64
    assert manifest.data_end == datetime(2020, 2, 9, tzinfo=UTC)
    (fold,) = manifest.folds
    assert fold.train_rows == 30 and fold.test_end_ts == datetime(2020, 2, 9, tzinfo=UTC)
    naive = Manifest.from_json({**FOUNDATION, "data_start": "2020-01-01T00:00:00"})
    assert naive.data_start == datetime(2020, 1, 1, tzinfo=UTC)  # a naive time is UTC
    with pytest.raises(KeyError, match="features"):
        Manifest.from_json({k: v for k, v in FOUNDATION.items() if k != "features"})


def test_training_returns_the_final_models_own_importances(trained):
    model = load_model("lightgbm", trained.artifact)
    expected = dict(zip(trained.manifest.features, map(float, model.feature_importances()), strict=True))
    assert trained.feature_importances == expected  # the very numbers a reloaded artifact gives
    assert np.isclose(sum(expected.values()), 1.0)


def test_kinds_without_importances_return_none(btc):
    assert train_model(btc, "knn", timeframe="1mo", n_folds=2).feature_importances is None

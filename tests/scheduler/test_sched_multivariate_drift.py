"""The product's drift checks run the multivariate checks too (reconstruction error by autoencoder
and by PCA over a version's features), stored in drift_results beside the per-feature rows, on
both backends; and a version whose preprocessing learns autoencoder factors trains, stores and
serves them."""

from __future__ import annotations

import numpy as np
import pytest

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from scheduler.config import TrainingConfig
from scheduler.services.drift import check_slot_drift, drift_windows
from scheduler.services.training import train_slot

SLOT = "GOOG:1d:fwd_ret_1"
BARS = 900


@pytest.fixture(scope="module")
def goog():
    return load_ohlcv(bundled_path("GOOG"), symbol="GOOG").head(BARS)


def test_a_scheduled_check_stores_both_multivariate_rows_beside_the_features(any_brain_url, goog):
    from engine.drift import ReconstructionDriftCheck

    with open_brain(any_brain_url) as brain:
        brain.store_bars("GOOG", "1d", goog)
        (version,) = train_slot(brain, "GOOG", "1d", TrainingConfig(models=["linear"], n_folds=2))
        features = len(version.manifest["features"])
        assert check_slot_drift(brain, SLOT, current_bars=200) == 2 * features + 2
        rows = brain.list_drift_results(slot_key=SLOT)
        multivariate = {row.method: row for row in rows if row.multivariate}
        assert set(multivariate) == {"autoencoder", "pca"}
        assert {row.feature for row in multivariate.values()} == {
            "⟨multivariate · autoencoder⟩", "⟨multivariate · pca⟩"}
        assert len({row.ts for row in rows}) == 1  # one check time for the whole check
        assert not any(row.multivariate for row in rows if row.method in ("psi", "ks"))
        # What was stored is the engine's check of the version's windows, run again here.
        windows = drift_windows(brain, SLOT, current_bars=200)
        for method, row in multivariate.items():
            again = ReconstructionDriftCheck(method, columns=list(windows.features)).fit(
                windows.reference).check(windows.current)
            assert row.statistic == pytest.approx(again.statistic)
            assert row.threshold == pytest.approx(again.threshold)
            assert row.drifted == again.drifted
            assert row.details["features"] == features and row.details["version"] == version.number
            assert row.details["reference_error"] == pytest.approx(again.reference_error)
        # The per-feature drift flag (what the overview and the alerts read) counts features only.
        assert brain.drift_flags()[SLOT]["features"] == features
        # A check asked for no multivariate method stores the per-feature rows alone.
        assert check_slot_drift(brain, SLOT, current_bars=200, multivariate=()) == 2 * features


def test_autoencoder_factors_are_trained_stored_and_served(any_brain_url, goog):
    from engine.serving import load_servable

    with open_brain(any_brain_url) as brain:
        brain.store_bars("GOOG", "1d", goog)
        config = TrainingConfig(
            models=["linear"], n_folds=2,
            preprocessing=({"step": "scale"}, {"step": "autoencoder", "latent": 3, "hidden": 8, "epochs": 5}),
        )
        (version,) = train_slot(brain, "GOOG", "1d", config)
        steps = version.manifest["spec"]["preprocessing"]
        assert steps[1] == {"step": "autoencoder", "latent": 3, "hidden": 8, "epochs": 5, "seed": None}
        assert version.manifest["preprocessor"]["outputs"] == ["ae_0", "ae_1", "ae_2"]
        serving = load_servable(version.manifest, brain.load_artifact(version.artifact_sha256),
                                sha256=version.artifact_sha256, load_artifact=brain.load_artifact)
        assert serving.steps.output_names == ("ae_0", "ae_1", "ae_2")
        batch = serving.predict_frame(brain.load_bars("GOOG", "1d"))
        forecasts = batch["prediction"].to_numpy()
        assert batch.height > 0 and np.isfinite(forecasts).all() and np.ptp(forecasts) > 0
        # The model reads the three latent units the stored fit makes of the version's features.
        latent = serving.steps.transform(np.zeros((4, len(version.manifest["features"]))))
        assert latent.shape == (4, 3)

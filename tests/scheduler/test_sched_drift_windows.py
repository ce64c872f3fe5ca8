"""The drift service's one computation: the scheduled checks and the console's look at one
feature (the Drift view's drill-down) build their windows and run their checks the same way."""

from __future__ import annotations

import pytest

from brain import open_brain
from scheduler.services.drift import check_slot_drift, feature_drift

GOOG = "GOOG:1d:fwd_ret_1"


def test_a_feature_up_close_is_the_stored_checks_computation_run_again(seeded_brain_url):
    """The drill-down view's numbers come from the drift service's one computation: rebuilt on the
    windows a scheduled check stored, they equal what that check stored."""
    with open_brain(seeded_brain_url) as brain:
        assert check_slot_drift(brain, GOOG) > 0
        stored = {(row.feature, row.method): row for row in brain.list_drift_results(slot_key=GOOG)}
        feature = brain.latest_version(GOOG).manifest["features"][0]
        row = stored[(feature, "psi")]
        drift = feature_drift(brain, GOOG, feature, version_number=row.details["version"],
                              current_between=(row.current_start, row.current_end))
    by_method = {method: (statistic, drifted) for method, statistic, _, _, drifted in drift.statistics}
    for method in ("psi", "ks"):
        assert by_method[method][0] == pytest.approx(stored[(feature, method)].statistic)
        assert by_method[method][1] == bool(stored[(feature, method)].drifted)
    assert drift.current_window[:2] == (row.current_start, row.current_end)
    assert drift.reference_window[:2] == (row.reference_start, row.reference_end)


def test_drift_checks_watch_the_versions_own_features(tmp_path):
    """A version on the full recipe is watched on its 45 columns, computed from its spec."""
    from engine.data import load_ohlcv
    from engine.datasets import bundled_path
    from engine.features import resolve_recipe
    from scheduler.config import TrainingConfig
    from scheduler.services.drift import drift_windows
    from scheduler.services.training import train_slot

    with open_brain(f"sqlite:///{tmp_path / 'brain.db'}") as brain:
        brain.store_bars("GOOG", "1d", load_ohlcv(bundled_path("GOOG"), symbol="GOOG"))
        train_slot(brain, "GOOG", "1d", TrainingConfig(models=["linear"], n_folds=2, recipe="full"))
        windows = drift_windows(brain, "GOOG:1d:fwd_ret_1")
        assert list(windows.features) == resolve_recipe("full")[1].columns()
        assert windows.reference.height > 1000 and windows.current.height == 500
        assert check_slot_drift(brain, "GOOG:1d:fwd_ret_1") > 45  # every column, by each method

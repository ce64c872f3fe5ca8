"""TrainingConfig takes any zoo kind; train_slot's incremental cadence continues from the
slot's latest version of each kind, loaded from the brain."""

from __future__ import annotations

import pytest
import yaml

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.manifest import Manifest
from engine.models import load_model
from scheduler.config import ConfigError, TrainingConfig, load_config
from scheduler.services.training import train_slot


def test_defaults_keep_todays_behaviour():
    config = TrainingConfig()
    assert (config.models, config.cadence, config.threshold_bps) == (["linear", "lightgbm"], "full", 0.0)


def test_any_available_zoo_kind_and_its_params_are_accepted():
    config = TrainingConfig.model_validate(
        {
            "models": ["xgboost", "logistic", "lstm"],
            "params": {"xgboost": {"n_estimators": 5}},
            "cadence": "incremental",
            "threshold_bps": 3,
        }
    )
    assert config.models == ["xgboost", "logistic", "lstm"] and config.params["xgboost"] == {
        "n_estimators": 5
    }


@pytest.mark.parametrize(
    ("training", "message"),
    [
        ({"models": ["linear", "gradient_magic"]}, "training.models: .*unknown model kind 'gradient_magic'"),
        ({"params": {"gradient_magic": {}}}, "training.params: .*unknown model kind 'gradient_magic'"),
        ({"cadence": "hourly"}, "training.cadence"),
        ({"threshold_bps": -1}, "training.threshold_bps"),
    ],
)
def test_bad_training_settings_name_the_key(tmp_path, training, message):
    path = tmp_path / "huracan.yaml"
    path.write_text(yaml.safe_dump({"training": training}), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_unavailable_kinds_are_refused_with_the_reason(tmp_path):
    path = tmp_path / "huracan.yaml"
    path.write_text(yaml.safe_dump({"training": {"models": ["catboost"]}}), encoding="utf-8")
    try:
        import catboost  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="training.models: .*'catboost' is not available here"):
            load_config(path)
    else:
        assert load_config(path).training.models == ["catboost"]


def test_incremental_retrain_continues_from_the_latest_version(tmp_path):
    frame = load_ohlcv(bundled_path("GOOG"), symbol="GOOG").tail(500)
    config = TrainingConfig.model_validate(
        {
            "models": ["xgboost", "linear"],
            "n_folds": 2,
            "params": {"xgboost": {"n_estimators": 8, "n_jobs": 1}},
        }
    )
    with open_brain(f"sqlite:///{tmp_path / 'brain.db'}") as brain:
        brain.store_bars("GOOG", "1d", frame.head(400))
        first_boosted, first_linear = train_slot(brain, "GOOG", "1d", config)
        brain.store_bars("GOOG", "1d", frame)
        incremental = config.model_copy(update={"cadence": "incremental"})
        boosted, linear = train_slot(brain, "GOOG", "1d", incremental)

        assert boosted.manifest["cadence"] == "incremental"
        assert boosted.manifest["warm_start_from"] == first_boosted.manifest["data_end"]
        assert boosted.data_start > first_boosted.data_end
        model = load_model("xgboost", brain.load_artifact(boosted.artifact_sha256))
        assert model.n_iterations_ == 16  # 8 trees from version 1, 8 more
        # Linear cannot warm start: retrained in full, and its manifest says so.
        assert linear.manifest["cadence"] == "full" and linear.data_start == first_linear.data_start

        for version, kind in ((boosted, "xgboost"), (linear, "linear")):
            # The stored document reads back as a typed Manifest and writes back unchanged.
            assert Manifest.from_json(version.manifest).to_json() == version.manifest
            # Native importances are the trained model's, the very numbers its artifact gives.
            stored = {row["feature"]: row["value"] for row in brain.feature_importance(version.id, "native")}
            model = load_model(kind, brain.load_artifact(version.artifact_sha256))
            assert stored == dict(zip(version.manifest["features"], map(float, model.feature_importances()),
                                      strict=True))

"""The metrics by regime stored with each new version (scope oos_regime) are labelled by the
configured `regimes:` (issue 17), the config the regime map and `huracan regimes` label by, not
the defaults: through a retrain request's job run in a worker's code, `huracan train`, and the
blend a retrain makes; an old job without the labelling config still stores under the defaults."""

from __future__ import annotations

import math
from collections import Counter

import polars as pl
import pytest
import yaml

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.metrics import strategy_returns
from engine.regimes import RegimeConfig
from huracan_tui.cli.main import run as huracan
from scheduler.config import HuracanConfig, TrainingConfig
from scheduler.daemon.runners import run_train_job
from scheduler.services.regime_map import stored_regime_metrics, utc
from scheduler.services.regimes import slot_regimes
from scheduler.services.requests import submit_request
from scheduler.services.training import slot_training
from tests.grants import grant_quietly

SLOT = "GOOG:1d:fwd_ret_1"
BARS = 700
# Volatility terciles moved: the vol labels of most bars differ from the defaults' (0.33, 0.67).
CONFIGURED = {"vol_quantiles": [0.2, 0.5], "vol_window": 10}
TRAINING = {"models": ["linear"], "n_folds": 2}


@pytest.fixture(scope="module")
def goog() -> pl.DataFrame:
    return load_ohlcv(bundled_path("GOOG"), symbol="GOOG").head(BARS)


@pytest.fixture
def brain(any_brain_url, goog):
    with open_brain(any_brain_url) as opened:
        opened.store_bars("GOOG", "1d", goog)
        opened.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
        grant_quietly(opened, "alice")
        yield opened


def vol_by_bar(brain, config: RegimeConfig) -> dict:
    labels = slot_regimes(brain, SLOT, config=config)
    return {utc(ts): label for ts, label in zip(labels["ts"].to_list(), labels["vol"].to_list(), strict=True)}


def vol_counts(brain, version, config: RegimeConfig) -> dict[str, int]:
    """The version's traded out-of-sample bars per vol label under `config`, counted here from
    the labels and the stored forecasts (as engine.metrics trades them)."""
    rows = brain.oos_predictions(version.id)
    returns = strategy_returns(rows.prediction, rows.next_ret, version.manifest["cost_bps"])
    by_bar = vol_by_bar(brain, config)
    found = Counter(by_bar.get(utc(ts)) for ts, value in zip(rows.ts, returns, strict=True)
                    if math.isfinite(value))
    found.pop(None, None)  # bars without a label yet
    return dict(found)


def stored_vol_counts(brain, version) -> dict[str, int]:
    stored = stored_regime_metrics(brain, version, "oos")
    return {regime: int(metrics["n"]) for (axis, regime), metrics in stored.items() if axis == "vol"}


def assert_stored_under_the_configured_labels(brain, version) -> None:
    configured = vol_counts(brain, version, RegimeConfig.model_validate(CONFIGURED))
    default = vol_counts(brain, version, RegimeConfig())
    assert configured != default  # the test tells the two apart
    assert stored_vol_counts(brain, version) == configured


def test_a_retrain_request_runs_a_job_that_stores_metrics_by_the_configured_regimes(brain):
    config = HuracanConfig.model_validate({"training": TRAINING, "regimes": CONFIGURED})
    assert slot_training(config, brain, brain.get_slot(SLOT)).regimes == config.regimes
    done = submit_request(brain, config, "retrain", {"slot": SLOT}, actor="alice", origin=None,
                          role="operator", handler="test:1", wait_seconds=0)
    assert done.state == "done", done.outcome
    job = brain.get_job(done.result["job"])  # its params as the worker reads them: JSON from the brain
    assert job.params["training"]["regimes"]["vol_quantiles"] == CONFIGURED["vol_quantiles"]
    result = run_train_job(brain, job, lambda *_: None)
    (stored,) = result["versions"]
    assert_stored_under_the_configured_labels(brain, brain.get_version(SLOT, stored["number"]))


def test_the_demo_job_carries_the_configured_regimes_to_its_worker(brain):
    config = HuracanConfig.model_validate({"training": TRAINING, "regimes": CONFIGURED})
    done = submit_request(brain, config, "demo", {}, actor="alice", origin=None, role="operator",
                          handler="test:1", wait_seconds=0)
    assert done.state == "done", done.outcome
    job = brain.get_job(done.result["job"])
    # What run_demo_job trains with (its versions are stored by train_slot, as a train job's are).
    assert TrainingConfig.model_validate(job.params["training"]).regimes == config.regimes != RegimeConfig()


def test_a_job_queued_without_the_labelling_config_stores_under_the_defaults(brain):
    """Jobs queued before `training.regimes` existed have none in their params."""
    job = brain.create_job("train", slot_key=SLOT,
                           params={"symbol": "GOOG", "timeframe": "1d", "training": TRAINING})
    (stored,) = run_train_job(brain, job, lambda *_: None)["versions"]
    version = brain.get_version(SLOT, stored["number"])
    assert stored_vol_counts(brain, version) == vol_counts(brain, version, RegimeConfig())


def test_huracan_train_and_its_blend_store_metrics_by_the_config_files_regimes(brain, any_brain_url, goog,
                                                                                tmp_path, capsys):
    data = tmp_path / "goog.csv"
    goog.write_csv(data)
    config_file = tmp_path / "huracan.yaml"
    config_file.write_text(yaml.safe_dump({"training": {**TRAINING, "models": ["linear", "decision_tree"]},
                                           "regimes": CONFIGURED}))
    code = huracan(["train", "--data", str(data), "--symbol", "GOOG", "--brain", any_brain_url,
                    "--config", str(config_file), "--ensemble", "average", "--json"])
    assert code == 0, capsys.readouterr().err
    versions = brain.list_versions(SLOT)
    assert [v.model_kind for v in versions] == ["linear", "decision_tree", "ensemble"]
    for version in versions:
        if version.model_kind == "ensemble":
            # A blend's folds each trade from flat (regime_map.oos_bar_returns): its bars, not its
            # returns, are what the labels split.
            rows = brain.oos_predictions(version.id)
            by_bar = vol_by_bar(brain, RegimeConfig.model_validate(CONFIGURED))
            seen = Counter(by_bar.get(utc(ts)) for ts in rows.ts)
            seen.pop(None, None)
            assert stored_vol_counts(brain, version) == dict(seen)
        else:
            assert_stored_under_the_configured_labels(brain, version)

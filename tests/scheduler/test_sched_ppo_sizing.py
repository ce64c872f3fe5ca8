"""ppo_sizing in the product path, on real brains (SQLite and PostgreSQL): a sizing agent trained
on the slot champion's stored out-of-sample forecasts, stored with its member recorded, scored as
sizes (walk-forward metrics, OOS equity) beside a fixed-size and a volatility-targeting rule,
served with the member's forecast as column 0 (and refused when the member's artifact was
tampered with), replayed for A/B from its own manifest; `huracan train --models ppo_sizing`
in-process; bad input one line, nothing written."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import update

from brain import BrainError, open_brain
from brain.schema import artifacts
from engine.abtest import TESTS, replay_predictions
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.ensembles.version import EnsembleError
from engine.metrics import sharpe_ratio, strategy_returns
from engine.models import load_model
from engine.pipeline import version_features
from engine.rl.signal import SignalError
from engine.serving import SizingServable, load_servable
from huracan_tui.cli.main import run as cli_run
from scheduler.config import HuracanConfig, TrainingConfig
from scheduler.services.comparison import compare_versions
from scheduler.services.ensembles import train_ensemble
from scheduler.services.equity import walk_forward_equity
from scheduler.services.feeds import ReplayFeed
from scheduler.services.live import LiveState, live_tick
from scheduler.services.live_metrics import metrics_of
from scheduler.services.training import train_slot

SLOT = "GOOG:1d:fwd_ret_1"
TRAIN_BARS = 300
NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
TINY = {"total_timesteps": 256, "n_steps": 64, "batch_size": 32, "n_epochs": 1}
SIZING = TrainingConfig(models=["ppo_sizing"], n_folds=2, params={"ppo_sizing": TINY})


@pytest.fixture
def brain(any_brain_url):
    goog = load_ohlcv(bundled_path("GOOG"), symbol="GOOG")
    brain = open_brain(any_brain_url)
    brain.store_bars("GOOG", "1d", goog.head(TRAIN_BARS))
    train_slot(brain, "GOOG", "1d", TrainingConfig(models=["linear"], n_folds=3))
    yield brain
    brain.close()


def servable(brain, version):
    return load_servable(version.manifest, brain.load_artifact(version.artifact_sha256),
                         sha256=version.artifact_sha256, load_artifact=brain.load_artifact)


def test_a_sizing_agent_sizes_on_the_champion_and_is_scored_and_served_as_sizes(brain):
    brain.promote_version(SLOT, 1, actor="alice", reason="the signal")
    member = brain.get_version(SLOT, 1)
    (version,) = train_slot(brain, "GOOG", "1d", SIZING)
    manifest = version.manifest
    assert (version.number, version.model_kind, manifest["position_rule"]) == (2, "ppo_sizing", "size")
    recorded = manifest["signal"]
    assert (recorded["number"], recorded["version_id"], recorded["artifact_sha256"]) == (
        1, member.id, member.artifact_sha256)
    assert recorded["manifest"]["artifact_sha256"] == member.artifact_sha256
    assert manifest["spec"]["model"]["params"]["signal_version"] == 1
    assert len(manifest["folds"]) == 2

    # Only bars with the member's out-of-sample forecast were used, and its Sharpe is that of
    # size x next_ret - costs on |delta size| over the stored out-of-sample rows.
    rows, signal_rows = brain.oos_predictions(version.id), brain.oos_predictions(member.id)
    assert set(rows.ts) <= set(signal_rows.ts) and len(rows.ts) == manifest["metrics"]["n"]
    sizes, next_ret = np.asarray(rows.prediction, dtype=float), np.asarray(rows.next_ret, dtype=float)
    cap = manifest["params"]["leverage_cap"]
    assert np.all(np.abs(sizes) <= cap) and len(np.unique(np.round(sizes, 6))) > 3  # sizes, not signs
    turnover = np.abs(np.diff(sizes, prepend=0.0))
    by_hand = sizes * next_ret - manifest["cost_bps"] / 1e4 * turnover
    stored = {m.name: m.value for m in brain.version_metrics(version.id) if m.fold is None}
    assert stored["sharpe"] == pytest.approx(sharpe_ratio(by_hand, 252))
    assert stored["sharpe"] != pytest.approx(sharpe_ratio(strategy_returns(sizes, next_ret, 1.0), 252))
    assert walk_forward_equity(brain, version).sharpe == pytest.approx(stored["sharpe"])
    # The baselines on the same bars, the member's forecast as the signal.
    signal = dict(zip(signal_rows.ts, signal_rows.prediction, strict=True))
    fixed = np.sign([signal[ts] for ts in rows.ts])
    assert stored["baseline_fixed_sharpe"] == pytest.approx(
        sharpe_ratio(strategy_returns(fixed, next_ret, manifest["cost_bps"], "size"), 252))
    assert np.isfinite(stored["baseline_voltarget_sharpe"])

    # Served: the member's own forecast as column 0 of the agent's rollout.
    served = servable(brain, version)
    assert isinstance(served, SizingServable) and served.member_number == 1
    bars = brain.load_bars("GOOG", "1d")
    frame = served.predict_frame(bars)
    model = load_model("ppo_sizing", brain.load_artifact(version.artifact_sha256),
                       sha256=version.artifact_sha256, artifact_format=manifest["artifact_format"])
    member_frame = servable(brain, member).predict_frame(bars)
    forecast = dict(zip(member_frame["ts"].to_list(), member_frame["prediction"].to_list(), strict=True))
    features = version_features(bars, served.spec).filter(
        np.isfinite(version_features(bars, served.spec).select(served.inputs).to_numpy()).all(axis=1))
    features = features.filter(features["ts"].is_in(list(forecast)))
    X = np.column_stack([[forecast[ts] for ts in features["ts"].to_list()],
                         features.select(served.inputs).to_numpy()])
    assert frame["ts"].to_list() == features["ts"].to_list()
    np.testing.assert_allclose(frame["prediction"].to_numpy(), model.predict(X), rtol=1e-6, atol=1e-7)

    # A/B: replayed from its self-contained manifest (its member's forecasts rebuilt), as sizes.
    replayed = replay_predictions(bars, manifest, manifest["folds"])
    np.testing.assert_allclose(np.concatenate([r.prediction for r in replayed]), sizes, atol=1e-12)
    assert compare_versions(brain, SLOT, 2, [1], n_boot=50)["periods"] == len(rows.ts)
    # The agent as the challenger of a plain champion: both on the agent's folds, whose bars
    # all have the member's out-of-sample forecast (the champion's first fold has none).
    challenged = compare_versions(brain, SLOT, 1, [2], n_boot=50)
    assert (challenged["folds_of"], challenged["periods"]) == (2, len(rows.ts))
    assert {row["test"] for row in challenged["results"]} == set(TESTS)
    with pytest.raises(EnsembleError, match="^v2 is a sizing agent"):  # sizes are not blended
        train_ensemble(brain, SLOT, [1, 2], "average")

    # The live loop serves it as any version: sizes within the cap.
    brain.promote_version(SLOT, 2, actor="alice", reason="size it", force=True)
    state = LiveState()
    feed = ReplayFeed(bundled_path("GOOG"), "GOOG", "1d", speed=3)
    for _ in range(2):
        live_tick(brain, HuracanConfig(), [feed], state=state, now=NOW)
    live = [row for row in brain.list_predictions(SLOT, limit=50) if row.version_id == version.id]
    assert live and all(abs(row.batch) <= cap for row in live)
    # A size is served unblended: no online learner (it forecasts bps) learns or mixes beside it.
    assert all(row.online is None and row.blended == row.batch for row in live)
    # Its live metrics hold the forecast as a size too.
    matured = brain.list_predictions(SLOT, version=2, matured=True)
    assert matured
    held = np.asarray([row.blended for row in matured])
    realised = np.asarray([row.realised for row in matured]) / 1e4
    by_hand = held * realised - manifest["cost_bps"] / 1e4 * np.abs(np.diff(held, prepend=0.0))
    assert metrics_of(matured, version, "1d", 1)["sharpe"] == pytest.approx(sharpe_ratio(by_hand, 252),
                                                                            nan_ok=True)

    # A member artifact tampered with in the brain: loading the sizing version is refused.
    with brain._write() as connection:  # test set-up: corrupt the stored bytes directly
        connection.execute(update(artifacts).where(artifacts.c.sha256 == member.artifact_sha256)
                           .values(data=b"tampered"))
    with pytest.raises(BrainError, match="failed its sha256 check"):
        LiveState().servable(brain, version)
    forged = {member.artifact_sha256: b"tampered"}  # a store that hands back other bytes
    with pytest.raises(ValueError, match="signal member v1: .*sha256"):
        load_servable(manifest, brain.load_artifact(version.artifact_sha256),
                      sha256=version.artifact_sha256, load_artifact=forged.__getitem__)


def test_bad_sizing_input_is_one_line_and_writes_nothing(brain):
    cases = [
        (SIZING, "ppo_sizing needs a champion forecast for slot GOOG:1d:fwd_ret_1: train and promote "
                 "a model first"),
        (SIZING.model_copy(update={"params": {"ppo_sizing": {**TINY, "signal_version": 9}}}),
         "ppo_sizing parameter signal_version 9: GOOG:1d:fwd_ret_1 has no version 9 (versions: [1])"),
    ]
    for config, words in cases:
        with pytest.raises(SignalError) as refused:
            train_slot(brain, "GOOG", "1d", config)
        assert str(refused.value) == words
    brain.promote_version(SLOT, 1, actor="alice", reason="the signal")
    for params, words in (
        ({**TINY, "leverage_cap": 0}, "ppo_sizing parameter leverage_cap must be a number > 0"),
        ({**TINY, "window": 500}, "ppo_sizing parameter window 500 is longer than the"),
    ):
        with pytest.raises(ValueError) as refused:
            train_slot(brain, "GOOG", "1d", SIZING.model_copy(update={"params": {"ppo_sizing": params}}))
        assert words in str(refused.value) and "\n" not in str(refused.value)
    from sqlalchemy import delete

    from brain.schema import version_oos_predictions

    with brain._write() as connection:  # a member stored before the brain kept its rows
        connection.execute(delete(version_oos_predictions))
    with pytest.raises(SignalError, match="v1 has no stored out-of-sample forecasts"):
        train_slot(brain, "GOOG", "1d", SIZING)
    assert [v.number for v in brain.list_versions(SLOT)] == [1]


def test_huracan_train_models_ppo_sizing_after_a_champion(tmp_path, capsys):
    import json

    import yaml

    url = f"sqlite:///{tmp_path / 'brain.db'}"
    data = tmp_path / "goog.csv"
    load_ohlcv(bundled_path("GOOG"), symbol="GOOG").head(TRAIN_BARS).drop("symbol").write_csv(data)
    config = tmp_path / "huracan.yaml"
    config.write_text(yaml.safe_dump({"training": {"models": ["linear"], "n_folds": 3,
                                                   "params": {"ppo_sizing": TINY}}}))
    common = ["train", "--data", str(data), "--symbol", "GOOG", "--brain", url, "--config", str(config)]
    assert cli_run([*common, "--json"]) == 0
    capsys.readouterr()
    assert cli_run([*common, "--models", "ppo_sizing", "--folds", "2"]) == 2
    assert capsys.readouterr().err.strip() == (
        "huracan: error: ppo_sizing needs a champion forecast for slot GOOG:1d:fwd_ret_1: train and "
        "promote a model first")
    tune = ["auto-tune", "--data", str(data), "--symbol", "GOOG", "--brain", url, "--trials", "2",
            "--folds", "2",
            *(arg for name, value in TINY.items() for arg in ("--params", f"ppo_sizing.{name}={value}"))]
    assert cli_run([*tune, "--kinds", "ppo_sizing"]) == 2  # the same words as training's
    assert capsys.readouterr().err.strip().startswith("huracan: error: ppo_sizing needs a champion forecast")
    with open_brain(url) as brain:
        brain.promote_version(SLOT, 1, actor="alice", reason="the signal")
    # Tuned through the Optuna path like any kind: beside linear, on the bars v1 forecast out of sample.
    assert cli_run([*tune, "--kinds", "ppo_sizing,linear", "--study", "sizing", "--json"]) == 0
    tuned = json.loads(capsys.readouterr().out)
    with open_brain(url) as brain:
        forecast = len(brain.oos_predictions(brain.get_version(SLOT, 1).id).ts)
    assert tuned["tuning"]["rows"] + tuned["holdout"]["rows"] <= forecast
    assert tuned["trials"]["complete"] == 2 and set(tuned["search_space"]) == {"ppo_sizing", "linear"}
    assert cli_run([*tune, "--kinds", "linear", "--signal-version", "1"]) == 2
    assert "--signal-version is for sizing kinds" in capsys.readouterr().err
    for params, words in (({**TINY, "leverage_cap": 0}, "leverage_cap must be a number > 0"),
                          ({**TINY, "window": 500}, "window 500 is longer than the")):
        bad = tmp_path / "bad.yaml"
        bad.write_text(yaml.safe_dump({"training": {"models": ["linear"], "params": {"ppo_sizing": params}}}))
        assert cli_run([*common[:-1], str(bad), "--models", "ppo_sizing", "--folds", "2"]) == 2
        err = capsys.readouterr().err
        assert f"huracan: error: ppo_sizing parameter {words}" in err and err.count("\n") == 1
    with open_brain(url) as brain:
        assert [v.number for v in brain.list_versions(SLOT)] == [1]
    assert cli_run([*common, "--models", "ppo_sizing", "--folds", "2", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [(v["number"], v["model_kind"]) for v in document["versions"]] == [(2, "ppo_sizing")]
    assert {"baseline_fixed_sharpe", "baseline_voltarget_sharpe"} <= set(document["versions"][0]["metrics"])
    with open_brain(url) as brain:
        assert brain.get_version(SLOT, 2).manifest["signal"]["number"] == 1

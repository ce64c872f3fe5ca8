"""`huracan-tui --headless`: the APScheduler cadence queues retrains, worker processes run them,
and SIGTERM stops everything cleanly with running jobs marked interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from brain import open_brain
from tests.conftest import write_config
from tests.waiting import wait_until

BIN = Path(sys.executable).parent


def start_headless(brain_url: str, config: Path, tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    return subprocess.Popen(
        [str(BIN / "huracan-tui"), "--headless", "--brain", brain_url, "--config", str(config)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_cadence_retrains_every_slot_and_sigterm_stops_cleanly(seeded_brain_url, tmp_path):
    config = write_config(tmp_path / "h.yaml", schedule={
        "retrain_every": "1h", "retrain_on_start": True, "dispatch_every": "1s", "drift_every": "2s"})
    leader = start_headless(seeded_brain_url, config, tmp_path)
    try:
        with open_brain(seeded_brain_url) as brain:
            wait_until(lambda: [j for j in brain.list_jobs() if j.kind == "train"
                                and j.state == "succeeded"].__len__() == 2, 180, "two retrains")
            assert brain.latest_version("GOOG:1d:fwd_ret_1").number == 4
            assert brain.latest_version("EURUSD:1h:fwd_ret_1").number == 4
            # The drift cadence stores one row per feature and method for every slot, and one per
            # multivariate check (autoencoder, PCA).
            for slot in ("GOOG:1d:fwd_ret_1", "EURUSD:1h:fwd_ret_1"):
                results = wait_until(lambda slot=slot: brain.list_drift_results(slot_key=slot), 60,
                                     f"drift results of {slot}")
                assert {row.method for row in results} == {"psi", "ks", "autoencoder", "pca"}
    finally:
        leader.send_signal(signal.SIGTERM)
        output, _ = leader.communicate(timeout=60)
    assert leader.returncode == 0, output
    assert "retrain of GOOG:1d:fwd_ret_1 queued" in output
    assert "SIGTERM received: stopping" in output and "headless scheduler stopped" in output
    assert "Traceback" not in output
    with open_brain(seeded_brain_url) as brain:
        actions = [entry.action for entry in brain.list_audit()]
        assert "headless.start" in actions and "headless.stop" in actions


def test_sigterm_during_a_job_marks_it_interrupted(seeded_brain_url, tmp_path):
    config = write_config(tmp_path / "slow.yaml", schedule={
        "retrain_every": "1h", "retrain_on_start": True, "dispatch_every": "1s"})
    # Slow enough that the job is certainly still running when the signal arrives.
    config.write_text(config.read_text().replace("n_estimators: 40", "n_estimators: 50000"))
    leader = start_headless(seeded_brain_url, config, tmp_path)
    with open_brain(seeded_brain_url) as brain:
        running = wait_until(lambda: [j for j in brain.list_jobs() if j.state == "running"],
                             120, "a running job")
        leader.send_signal(signal.SIGTERM)
        output, _ = leader.communicate(timeout=60)
        assert leader.returncode == 0, output
        job = brain.get_job(running[0].id)
        assert job.state == "interrupted", (job, output)
        assert not [j for j in brain.list_jobs() if j.state == "running"]
        assert "Traceback" not in output


def test_ctrl_c_stops_it_too(seeded_brain_url, tmp_path):
    config = write_config(tmp_path / "h.yaml", schedule={"retrain_every": "1h"})
    leader = start_headless(seeded_brain_url, config, tmp_path)
    with open_brain(seeded_brain_url) as brain:
        wait_until(lambda: "headless.start" in [a.action for a in brain.list_audit()], 60, "start")
    leader.send_signal(signal.SIGINT)
    output, _ = leader.communicate(timeout=60)
    assert leader.returncode == 0 and "SIGINT received: stopping" in output


def test_headless_on_a_postgresql_brain(postgres_schema_url, fast_training, tmp_path):
    from engine.data import load_ohlcv
    from engine.datasets import bundled_path
    from scheduler.services.training import train_slot

    with open_brain(postgres_schema_url) as brain:
        brain.store_bars("GOOG", "1d", load_ohlcv(bundled_path("GOOG"), symbol="GOOG"))
        train_slot(brain, "GOOG", "1d", fast_training.model_copy(update={"models": ["linear"]}))
    config = write_config(tmp_path / "pg.yaml", schedule={
        "retrain_every": "1h", "retrain_on_start": True, "dispatch_every": "1s"})
    leader = start_headless(postgres_schema_url, config, tmp_path)
    try:
        with open_brain(postgres_schema_url) as brain:
            job = wait_until(lambda: [j for j in brain.list_jobs() if j.state == "succeeded"], 120,
                             "the retrain on PostgreSQL")[0]
            assert job.result["versions"][-1]["number"] == 3  # v1 seeded, v2 + v3 from the retrain
    finally:
        leader.send_signal(signal.SIGTERM)
        output, _ = leader.communicate(timeout=60)
    assert leader.returncode == 0, output

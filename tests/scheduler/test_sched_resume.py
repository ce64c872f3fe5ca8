"""A neural train job killed with kill -9 and requeued resumes from its last checkpoint: the new
attempt starts at the checkpointed epoch + 1 (its events and result say so), stores the version,
drops the run's checkpoints, and its artifact is the one an uninterrupted run makes. Both
backends."""

from __future__ import annotations

import signal
import subprocess

import pytest

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from scheduler.config import TrainingConfig
from scheduler.daemon.pause_points import PAUSE_AT_ENV, PAUSED_FILE_ENV
from scheduler.daemon.worker import run_job
from scheduler.services.job_params import train_job_params
from scheduler.services.training import train_run_key
from scheduler.services.worker_process import worker_launch
from tests.waiting import wait_until

SLOT = "GOOG:1d:fwd_ret_1"
# Tiny, but enough epochs that the kill lands inside a fit: 3 stages (2 folds, the final refit).
LSTM = TrainingConfig.model_validate({
    "models": ["lstm"], "n_folds": 2, "seed": 5,
    "params": {"lstm": {"lookback": 4, "hidden_size": 4, "num_layers": 2, "dropout": 0.2, "max_epochs": 8,
                        "patience": 50, "batch_size": 32, "device": "cpu"}},
})


@pytest.fixture(autouse=True)
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_a_killed_train_job_resumes_from_its_checkpoint_after_requeue(any_brain_url, tmp_path):
    with open_brain(any_brain_url) as brain:
        brain.store_bars("GOOG", "1d", load_ohlcv(bundled_path("GOOG"), symbol="GOOG").tail(240))
        params = train_job_params("GOOG", "1d", LSTM)
        job = brain.create_job("train", slot_key=SLOT, params=params)
        run_key = train_run_key("train", SLOT, params)

        command, env = worker_launch(any_brain_url, job.id)
        env["OMP_NUM_THREADS"] = "1"  # as one_thread: a tiny network, a busy machine
        # The worker stops for good at its first report half way through the job (fold 2 of 3,
        # epoch 4 of 8), so the kill -9 lands at a known epoch whatever the machine's speed.
        paused = tmp_path / "paused"
        env.update({PAUSE_AT_ENV: "midway", PAUSED_FILE_ENV: str(paused)})
        worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until(paused.exists, 120, "the worker to pause half way")
            # The brain has it too: a checkpoint at epoch 2 or later of some stage.
            wait_until(lambda: any(c.epoch >= 2 for c in brain.checkpoints(run_key)), 10, "a checkpoint")
            worker.send_signal(signal.SIGKILL)
        finally:
            worker.wait(timeout=60)
        assert worker.returncode == -signal.SIGKILL
        assert brain.get_job(job.id).state == "running"  # nobody told the brain: the reaper does
        assert brain.interrupt_running_jobs(stale_after_seconds=0) == [job.id]
        left = {c.stage: c.epoch for c in brain.checkpoints(run_key)}
        assert left == {f"{SLOT} lstm fold 1": 8, f"{SLOT} lstm fold 2": 4}  # fold 1 had finished

        again = brain.requeue_job(job.id)
        assert run_job(brain, again.id) == "succeeded"
        done = brain.get_job(again.id)
        resumes = [e.values for e in brain.job_events(again.id) if "resumed_from_epoch" in e.values]
        # Each stage the killed attempt had started resumes at its epoch + 1 (or is taken whole
        # when it had finished): no epoch before the checkpoint runs again.
        assert {f"{SLOT} lstm {stage_of(v)}": v["resumed_from_epoch"] for v in resumes} == left
        for stage, epoch in left.items():
            ran = [e.values["epoch"] for e in brain.job_events(again.id)
                   if "loss" in e.values and f"{SLOT} lstm {stage_of(e.values)}" == stage]
            assert ran == list(range(epoch + 1, 9)), stage
        assert done.result["resumed"] == [
            f"{SLOT} lstm: fold 1/2: resumed fold 1: finished at epoch 8, not refitted",
            f"{SLOT} lstm: fold 2/2: resumed from epoch 4 of fold 2",
        ]
        (stored,) = done.result["versions"]
        assert brain.checkpoints(run_key) == []  # the version is stored: nothing left to resume

        # The same run never interrupted: the same artifact, bit for bit (CPU, seeded).
        fresh = brain.create_job("train", slot_key=SLOT, params=params)
        assert run_job(brain, fresh.id) == "succeeded"
        assert "resumed" not in brain.get_job(fresh.id).result
        resumed_version = brain.get_version(SLOT, stored["number"])
        fresh_version = brain.get_version(SLOT, brain.get_job(fresh.id).result["versions"][0]["number"])
        assert resumed_version.artifact_sha256 == fresh_version.artifact_sha256


def stage_of(values: dict) -> str:
    """The engine's stage name of an event's fit: "fold N" (1-based) or "final fit"."""
    return "final fit" if values["fold"] == "final" else f"fold {int(values['fold']) + 1}"

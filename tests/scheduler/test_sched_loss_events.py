"""Neural training reports each epoch's losses as job events (the console's loss curves), and a
train job honours the kinds, cadence and device it was queued with."""

from __future__ import annotations

import math

import pytest

from brain import BrainError, open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from scheduler.config import TrainingConfig
from scheduler.daemon.worker import run_job
from scheduler.services.job_params import train_job_params

GOOG = "GOOG:1d:fwd_ret_1"
EPOCHS = 3
TINY_LSTM = {"lookback": 4, "hidden_size": 4, "max_epochs": EPOCHS, "patience": 10, "batch_size": 64}
TRAINING = TrainingConfig.model_validate(
    {"models": ["linear"], "n_folds": 3, "params": {"lstm": TINY_LSTM}}
)


def brain_with_goog(url: str):
    brain = open_brain(url)
    brain.store_bars("GOOG", "1d", load_ohlcv(bundled_path("GOOG"), symbol="GOOG"))
    return brain


def test_events_are_stored_in_step_order_and_read_back_on_both_backends(any_brain_url):
    with open_brain(any_brain_url) as brain:
        job = brain.create_job("train", params={})
        later = brain.record_job_event(job.id, 1, {"epoch": 2, "loss": 0.5, "val_loss": float("nan")})
        brain.record_job_event(job.id, 0, {"epoch": 1, "loss": 0.9, "val_loss": 1.1})
        events = brain.job_events(job.id)
        assert [(e.step, e.values["epoch"]) for e in events] == [(0, 1), (1, 2)]
        # NaN is no JSON number: stored as null
        assert events[1].values["val_loss"] is None and later.values["val_loss"] is None
        assert [e.step for e in brain.job_events(job.id, after_step=0)] == [1]
        assert brain.job_events(job.id + 1) == []
        with pytest.raises(BrainError, match=f"no job {job.id + 1}"):
            brain.record_job_event(job.id + 1, 0, {})
        assert not brain.record_job_device(job.id, "cuda:0")  # queued, not running: left alone
        brain.claim_job(job.id, worker="host:1", pid=1)
        assert brain.record_job_device(job.id, "cuda:0") and brain.get_job(job.id).device == "cuda:0"


def test_a_neural_job_records_every_epoch_of_every_fold_with_a_rising_step(any_brain_url):
    with brain_with_goog(any_brain_url) as brain:
        params = train_job_params("GOOG", "1d", TRAINING, kinds=["linear", "lstm"], cadence="quick",
                                  device="cpu")
        job = brain.create_job("train", slot_key="GOOG:1d:fwd_ret_1", params=params, device="cpu")
        assert run_job(brain, job.id) == "succeeded", brain.get_job(job.id).error
        done = brain.get_job(job.id)
        assert [v["model_kind"] for v in done.result["versions"]] == ["linear", "lstm"]
        assert done.device == "cpu"
        events = brain.job_events(job.id)
        # quick cadence: 2 folds and the final refit, EPOCHS epochs each; linear has no epochs
        assert [e.step for e in events] == list(range(3 * EPOCHS))
        assert [(e.values["fold"], e.values["epoch"]) for e in events] == [
            (fold, epoch) for fold in (0, 1, "final") for epoch in range(1, EPOCHS + 1)]
        for event in events:
            values = event.values
            assert (values["model_kind"], values["slot"], values["device"]) == ("lstm", GOOG, "cpu")
            assert math.isfinite(values["loss"]) and math.isfinite(values["val_loss"])
        lstm = brain.latest_version("GOOG:1d:fwd_ret_1")
        assert lstm.manifest["cadence"] == "quick" and lstm.manifest["params"]["device"] == "cpu"
        assert len(lstm.manifest["folds"]) == 2


def test_a_job_without_neural_kinds_records_no_events_and_runs_on_the_cpu(any_brain_url):
    with brain_with_goog(any_brain_url) as brain:
        job = brain.create_job("train", params=train_job_params("GOOG", "1d", TRAINING, device="cuda"),
                               device="cuda")
        assert run_job(brain, job.id) == "succeeded"
        assert brain.get_job(job.id).device == "cpu" and brain.job_events(job.id) == []


def test_cuda_on_a_machine_without_it_fails_the_job_before_anything_is_stored(tmp_path):
    import torch  # a dependency of the project; imported here only, as the console never does

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with brain_with_goog(f"sqlite:///{tmp_path / 'brain.db'}") as brain:
        params = train_job_params("GOOG", "1d", TRAINING, kinds=["linear", "lstm"], device="cuda")
        job = brain.create_job("train", slot_key="GOOG:1d:fwd_ret_1", params=params, device="cuda")
        assert run_job(brain, job.id) == "failed"
        failed = brain.get_job(job.id)
        assert "device 'cuda' was requested but CUDA is not available" in failed.error
        assert brain.list_slots() == []  # no slot, no version: nothing was trained


def test_bad_retrain_choices_are_refused_when_the_job_is_built():
    with pytest.raises(ValueError, match="unknown model kind 'nope'"):
        train_job_params("GOOG", "1d", TRAINING, kinds=["nope"])
    with pytest.raises(ValueError, match="cadence"):
        train_job_params("GOOG", "1d", TRAINING, cadence="hourly")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        train_job_params("GOOG", "1d", TRAINING, device="gpu")

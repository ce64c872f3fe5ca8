"""Neural training robustness: AMP only on CUDA (the rule, no GPU needed), a checkpoint after each
epoch, and a fit killed mid-way that resumes from its checkpoint and ends with the same weights
as a fit that was never interrupted. Tiny networks: seconds on two CPU cores."""

from __future__ import annotations

import io
import logging

import numpy as np
import polars as pl
import pytest
import torch

from engine.models import make_model
from engine.models.neural import NEURAL_MODEL_CLASSES
from engine.models.neural.checkpoints import StageCheckpoints
from engine.models.neural.device import amp_choice
from engine.training import train_model

TINY = {"lookback": 4, "hidden_size": 6, "num_layers": 2, "dropout": 0.3, "max_epochs": 5, "patience": 10,
        "batch_size": 32, "seed": 3, "device": "cpu"}


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: these networks are too small to share, and two threads on a busy
    2-core machine spend their time waiting for each other (10x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class MemoryStore:
    """A CheckpointStore in a dict; `kill_at` raises Killed right after that epoch's save, as a
    kill -9 would end the process with that checkpoint written and nothing after it."""

    def __init__(self, kill_at: int | None = None):
        self.saved: dict[str, tuple[int, bytes]] = {}
        self.kill_at = kill_at
        self.loads: list[str] = []

    def load(self, stage):
        self.loads.append(stage)
        found = self.saved.get(stage)
        return None if found is None else found[1]

    def save(self, stage, epoch, data):
        self.saved[stage] = (epoch, data)
        if epoch == self.kill_at:
            raise Killed(epoch)


class Killed(BaseException):
    pass


def rows(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.concatenate([[0.0], X[:-1, 0]]) + rng.normal(scale=0.5, size=n)
    return X, y


def fit(kind="lstm", store=None, X=None, y=None, progress=None, **overrides):
    X, y = rows() if X is None else (X, y)
    model = NEURAL_MODEL_CLASSES[kind](**{**TINY, **overrides})
    checkpoints = None if store is None else StageCheckpoints(store, "fold 1")
    return model.fit(X, y, checkpoints=checkpoints, progress=progress)


# ---- AMP: CUDA only ---------------------------------------------------------------------


@pytest.mark.parametrize("device_type", ["cpu", "mps"])
def test_amp_asked_for_off_cuda_is_turned_off_with_a_note(device_type):
    choice = amp_choice(True, device_type)
    assert not choice.enabled
    assert choice.note == f"amp is turned off on {device_type}: mixed precision runs on CUDA only"


def test_amp_runs_on_cuda_and_only_when_asked():
    assert amp_choice(True, "cuda").enabled and amp_choice(True, "cuda").note is None
    assert amp_choice(False, "cuda") == amp_choice(False, "cpu") == amp_choice(False, "mps")
    assert not amp_choice(False, "cuda").enabled and amp_choice(False, "cpu").note is None


def test_a_cpu_fit_that_asked_for_amp_records_why_it_ran_without(caplog):
    with caplog.at_level(logging.INFO, logger="engine.models.neural.estimator"):
        model = fit(amp=True, max_epochs=1)
    info = model.info()
    assert info["amp"] is False and "mixed precision runs on CUDA only" in info["amp_note"]
    assert "amp is turned off on cpu" in caplog.text
    assert fit(max_epochs=1).info()["amp_note"] is None


# ---- checkpoints and resume -------------------------------------------------------------


def test_each_epoch_replaces_the_stage_checkpoint_with_a_weights_only_file():
    store = MemoryStore()
    epochs = []

    class Recording(MemoryStore):
        def save(self, stage, epoch, data):
            epochs.append(epoch)
            super().save(stage, epoch, data)

    store = Recording()
    fit(store=store)
    assert epochs == [1, 2, 3, 4, 5]
    epoch, data = store.saved["fold 1"]
    payload = torch.load(io.BytesIO(data), weights_only=True)  # no pickle of anything but tensors
    assert epoch == payload["epoch"] == 5 and payload["finished"] is True
    assert set(payload) >= {"network", "optimizer", "order_rng", "torch_rng", "best_state", "since_best"}


@pytest.mark.parametrize("kind", ["lstm", "gru_classifier"])
def test_a_killed_fit_resumes_after_its_checkpoint_and_ends_bit_for_bit_the_same(kind):
    X, y = rows()
    if kind.endswith("classifier"):
        y = np.where(y > 0, 1, -1)
    whole = fit(kind, MemoryStore(), X, y)
    store = MemoryStore(kill_at=3)
    with pytest.raises(Killed):
        fit(kind, store, X, y)
    assert store.saved["fold 1"][0] == 3
    store.kill_at = None
    reports = []
    resumed = fit(kind, store, X, y, progress=lambda *report: reports.append(report))
    assert resumed.resumed_.epoch == 3 and not resumed.resumed_.finished
    assert reports[0][1] == "resumed from epoch 3 of fold 1"
    assert [values["epoch"] for _, _, values in reports[1:]] == [4, 5]  # epochs 1-3 not run again
    assert [r["epoch"] for r in resumed.history_] == [1, 2, 3, 4, 5]
    assert resumed.to_bytes() == whole.to_bytes()  # same weights, history, best epoch
    assert resumed.info()["resumed"] == "resumed from epoch 3 of fold 1"


def test_a_finished_stage_is_taken_as_it_was_without_refitting():
    store = MemoryStore()
    whole = fit(store=store)
    reports = []
    again = fit(store=store, progress=lambda *report: reports.append(report))
    assert again.resumed_.finished and again.resumed_.epoch == 5
    assert len(reports) == 1 and "not refitted" in reports[0][1]
    assert again.to_bytes() == whole.to_bytes()


def test_early_stopping_state_survives_the_resume():
    """patience counter and best-so-far weights travel in the checkpoint: the resumed fit stops
    where the whole one stopped and keeps the same best epoch."""
    X, y = rows()
    settings = {"max_epochs": 12, "patience": 1, "lr": 0.05}
    whole = fit(store=MemoryStore(), X=X, y=y, **settings)
    assert whole.stopped_early_, "the setting should stop early for this test to mean anything"
    store = MemoryStore(kill_at=whole.best_epoch_ + 1)
    with pytest.raises(Killed):
        fit(store=store, X=X, y=y, **settings)
    store.kill_at = None
    resumed = fit(store=store, X=X, y=y, **settings)
    assert resumed.best_epoch_ == whole.best_epoch_ and len(resumed.history_) == len(whole.history_)
    assert resumed.to_bytes() == whole.to_bytes()


def test_a_checkpoint_of_other_inputs_is_not_resumed():
    X, y = rows()
    store = MemoryStore(kill_at=2)
    with pytest.raises(Killed):
        fit(store=store, X=X, y=y)
    store.kill_at = None
    other = fit(store=store, X=X, y=y + 1.0)  # new bars: another fit, start over
    assert other.resumed_ is None and len(other.history_) == 5
    assert other.to_bytes() == fit(X=X, y=y + 1.0).to_bytes()
    assert fit(store=store, X=X, y=y, lr=0.01).resumed_ is None  # other parameters too


class Planted:
    ran = False

    def __reduce__(self):
        return (Planted.mark, ())

    @staticmethod
    def mark():
        Planted.ran = True


@pytest.mark.parametrize("data", [b"not a torch file", "pickle"])
def test_bytes_that_are_not_a_weights_only_checkpoint_are_refused_and_run_nothing(data, caplog):
    if data == "pickle":
        buffer = io.BytesIO()
        torch.save({"format": "huracan-neural-checkpoint/1", "evil": Planted()}, buffer)
        data = buffer.getvalue()
    store = MemoryStore()
    store.saved["fold 1"] = (3, data)
    with caplog.at_level(logging.WARNING):
        model = fit(store=store)
    assert model.resumed_ is None and len(model.history_) == 5 and not Planted.ran
    assert "not resuming fold 1" in caplog.text


def test_train_model_checkpoints_every_fit_of_a_neural_kind_and_resumes_them(goog_frame):
    store = MemoryStore()
    params = {**TINY, "max_epochs": 2}
    params.pop("seed")
    first = train_model(goog_frame, "lstm", timeframe="1d", n_folds=2, params=params, checkpoints=store)
    assert sorted(store.saved) == ["final fit", "fold 1", "fold 2"]
    assert all(epoch == 2 for epoch, _ in store.saved.values())
    again = train_model(goog_frame, "lstm", timeframe="1d", n_folds=2, params=params, checkpoints=store)
    assert again.artifact == first.artifact  # every stage taken from its finished checkpoint
    assert again.manifest.metrics == first.manifest.metrics


def test_kinds_without_checkpoints_ignore_the_store(goog_frame):
    store = MemoryStore()
    train_model(goog_frame, "linear", timeframe="1d", n_folds=2, checkpoints=store)
    assert store.saved == {} and store.loads == []
    assert not make_model("linear").tags.resumes_from_checkpoint


@pytest.fixture(scope="module")
def goog_frame():
    from engine.data import load_ohlcv
    from engine.datasets import bundled_path

    frame = load_ohlcv(bundled_path("GOOG"), symbol="GOOG")
    return frame.tail(260) if isinstance(frame, pl.DataFrame) else frame

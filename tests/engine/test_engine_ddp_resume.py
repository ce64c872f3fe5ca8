"""Distributed (DDP) fits keep checkpoints: rank 0 hands each epoch's training state to the
caller's store, a 2-rank fit whose rank dies resumes at the checkpointed epoch + 1 with every rank
restored (its own dropout generators too), and ends with the weights of an uninterrupted 2-rank fit."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from engine.models.neural import LSTMModel
from engine.models.neural.checkpoints import Resumed, StageCheckpoints
from engine.models.neural.distributed import TEST_EXIT_ENV, DistributedTrainingError

# Head dropout on: the two ranks draw different masks, so a resumed rank 1 must get its own
# generator back, not rank 0's. Patience past max_epochs: every fit runs all 4 epochs.
SMALL = {"lookback": 4, "hidden_size": 6, "dropout": 0.3, "batch_size": 24, "max_epochs": 4,
         "patience": 50, "validation_fraction": 0.2, "device": "cpu", "seed": 11, "processes": 2}
STAGE = "final"


class MemoryStore:
    """A CheckpointStore in memory: the newest checkpoint of each stage."""

    def __init__(self) -> None:
        self.saved: dict[str, tuple[int, bytes]] = {}
        self.epochs_saved: list[int] = []

    def load(self, stage: str) -> bytes | None:
        return self.saved[stage][1] if stage in self.saved else None

    def save(self, stage: str, epoch: int, data: bytes) -> None:
        self.saved[stage] = (epoch, data)
        self.epochs_saved.append(epoch)


def series(n_rows: int = 110, seed: int = 4):
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(n_rows, 3))
    return X, 0.5 * np.roll(X[:, 0], 1) + generator.normal(scale=0.5, size=n_rows)


def weights(model) -> dict:
    return {name: value.clone() for name, value in model.network_.state_dict().items()}


def assert_same_weights(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    worst = max(float((first[name] - second[name]).abs().max()) for name in first)
    assert worst <= 1e-6, f"weights differ by {worst}"


@pytest.fixture(scope="module")
def uninterrupted():
    """A 2-rank fit run start to end, keeping no checkpoints."""
    X, y = series()
    return LSTMModel(**SMALL).fit(X, y)


def test_a_two_rank_fit_whose_rank_dies_resumes_at_the_next_epoch_with_the_same_weights(
    uninterrupted, monkeypatch
):
    X, y = series()
    store = MemoryStore()
    checkpoints = StageCheckpoints(store, STAGE)
    monkeypatch.setenv(TEST_EXIT_ENV, "1:2")  # rank 1 vanishes after epoch 2
    with pytest.raises(DistributedTrainingError, match=r"^rank 1 of 2 died: exit code 3"):
        LSTMModel(**SMALL).fit(X, y, checkpoints=checkpoints)
    assert store.saved[STAGE][0] == 2  # rank 0 handed epoch 2 over before rank 1 died
    # (the launcher saves the newest checkpoint it finds at each look: maybe not epoch 1's too)
    assert store.epochs_saved in ([1, 2], [2])
    store.epochs_saved.clear()

    monkeypatch.delenv(TEST_EXIT_ENV)
    reports = []

    def progress(fraction, message, values):
        reports.append((message, values))

    resumed = LSTMModel(**SMALL).fit(X, y, checkpoints=checkpoints, progress=progress)

    assert resumed.resumed_ == Resumed(STAGE, 2, finished=False)
    assert reports[0][0] == "resumed from epoch 2 of final"
    assert [values["epoch"] for _, values in reports[1:]] == [3, 4]  # epochs 1 and 2 not run again
    assert store.epochs_saved in ([3, 4], [4])  # none of the epochs before 3 ran again
    assert_same_weights(weights(resumed), weights(uninterrupted))
    assert [r["epoch"] for r in resumed.history_] == [1, 2, 3, 4]
    np.testing.assert_allclose([r["loss"] for r in resumed.history_],
                               [r["loss"] for r in uninterrupted.history_], rtol=1e-6)
    assert resumed.best_epoch_ == uninterrupted.best_epoch_
    assert resumed.info()["resumed"] == "resumed from epoch 2 of final"


def test_a_finished_two_rank_fit_is_taken_from_its_checkpoint_and_other_inputs_start_over(uninterrupted):
    X, y = series()
    store = MemoryStore()
    checkpoints = StageCheckpoints(store, STAGE)
    first = LSTMModel(**SMALL).fit(X, y, checkpoints=checkpoints)
    assert store.saved[STAGE][0] == 4
    store.epochs_saved.clear()
    assert_same_weights(weights(first), weights(uninterrupted))  # saving changes no draw
    saved = torch.load(io.BytesIO(store.saved[STAGE][1]), weights_only=True)
    assert len(saved["rank_rngs"]) == 2  # each rank's generators
    assert not torch.equal(saved["rank_rngs"][0]["torch_rng"], saved["rank_rngs"][1]["torch_rng"])
    assert not any(name.startswith("module.") for name in saved["network"])  # the network's own keys

    again = LSTMModel(**SMALL).fit(X, y, checkpoints=checkpoints)
    assert again.resumed_ == Resumed(STAGE, 4, finished=True)
    assert store.epochs_saved == []  # no epoch ran again, no rank started
    assert_same_weights(weights(again), weights(uninterrupted))

    # One process trains otherwise (one rank's dropout masks): the 2-rank checkpoint is not its.
    single = LSTMModel(**{**SMALL, "processes": 1}).fit(X, y, checkpoints=checkpoints)
    assert single.resumed_ is None
    assert store.epochs_saved == [1, 2, 3, 4]  # started over, and overwrote it


def test_ranks_on_dask_resume_from_a_checkpoint_and_hand_theirs_back(uninterrupted, monkeypatch):
    distributed = pytest.importorskip("distributed")
    from engine.models.neural.distributed import use_launcher
    from scheduler.daemon.dask_executor import DaskRankLauncher

    X, y = series()
    store = MemoryStore()
    checkpoints = StageCheckpoints(store, STAGE)
    monkeypatch.setenv(TEST_EXIT_ENV, "1:2")  # the epoch-2 checkpoint, from local ranks
    with pytest.raises(DistributedTrainingError):
        LSTMModel(**SMALL).fit(X, y, checkpoints=checkpoints)
    monkeypatch.delenv(TEST_EXIT_ENV)
    assert store.saved[STAGE][0] == 2
    store.epochs_saved.clear()

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster.scheduler_address, set_as_default=False) as client, \
            use_launcher(DaskRankLauncher(client)):
        resumed = LSTMModel(**SMALL).fit(X, y, checkpoints=checkpoints)

    assert resumed.resumed_ == Resumed(STAGE, 2, finished=False)
    assert store.epochs_saved and store.epochs_saved[-1] == 4  # through the Dask Queue
    assert set(store.epochs_saved) <= {3, 4}
    assert_same_weights(weights(resumed), weights(uninterrupted))

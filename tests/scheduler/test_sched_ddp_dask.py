"""Data-parallel training on Dask: a distributed fit runs one rank per Dask worker (rendezvous on
a port rank 0's worker picks, passed through a Dask Variable), and a train job queued with two
processes stores a version whose manifest records how it was trained."""

from __future__ import annotations

import time

import distributed
import numpy as np
import pytest

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.models.neural import LSTMModel
from engine.models.neural.distributed import DistributedTrainingError, use_launcher
from scheduler.config import TrainingConfig
from scheduler.daemon.dask_executor import DaskExecutor, DaskRankLauncher
from scheduler.services.job_params import train_job_params

SMALL = {"lookback": 4, "hidden_size": 4, "dropout": 0.0, "batch_size": 16, "max_epochs": 2,
         "validation_fraction": 0.0, "device": "cpu", "seed": 3}


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes on loopback: one rank each."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as local:
        yield local


@pytest.fixture
def client(cluster):
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as dask_client:
        yield dask_client


def test_ranks_on_two_dask_workers_reach_the_weights_of_one_process(client):
    generator = np.random.default_rng(1)
    X, y = generator.normal(size=(90, 2)), generator.normal(size=90)
    one = LSTMModel(**SMALL).fit(X, y)
    epochs = []
    with use_launcher(DaskRankLauncher(client)):
        two = LSTMModel(**SMALL, processes=2).fit(X, y, progress=lambda *report: epochs.append(report))
    worst = max(float((one.network_.state_dict()[name] - value).abs().max())
                for name, value in two.network_.state_dict().items())
    assert worst <= 1e-6
    assert [values["epoch"] for _, _, values in epochs] == [1, 2]  # rank 0's epochs, via a Dask Queue
    # (each rank is pinned to its own single-threaded worker: two ranks queued on one worker
    # could never meet in the first all-reduce, and the fit would time out instead)


def test_more_ranks_than_workers_is_refused_in_one_line(client):
    X, y = np.zeros((40, 2)), np.arange(40.0)
    with use_launcher(DaskRankLauncher(client)), pytest.raises(
        DistributedTrainingError, match=r"processes is 3, but the Dask cluster at .* has 2 worker\(s\)"
    ):
        LSTMModel(**SMALL, processes=3).fit(X, y)


def test_a_train_job_with_two_processes_stores_a_version_that_records_them(client, tmp_path):
    brain_url = f"sqlite:///{tmp_path / 'brain.db'}"
    training = TrainingConfig.model_validate({
        "models": ["lstm"], "n_folds": 2, "cadence": "quick",
        "params": {"lstm": {**{k: v for k, v in SMALL.items() if k != "seed"}, "max_epochs": 1}},
    })
    executor = DaskExecutor(brain_url, client, owns_client=False)
    with open_brain(brain_url) as brain:
        frame = load_ohlcv(bundled_path("GOOG"), symbol="GOOG")
        brain.store_bars("GOOG", "1d", frame.tail(400))
        job = brain.create_job("train", slot_key="GOOG:1d:fwd_ret_1",
                               params=train_job_params("GOOG", "1d", training, processes=2))
        executor.submit(job.id)
        deadline = time.monotonic() + 600
        codes: dict[int, int] = {}
        while executor.running:
            assert time.monotonic() < deadline, "the distributed train job did not finish"
            codes.update(executor.reap())
            time.sleep(0.1)
        done = brain.get_job(job.id)
        assert codes == {job.id: 0}, done.error
        assert done.state == "succeeded"
        version = brain.latest_version("GOOG:1d:fwd_ret_1")
        params = version.manifest["spec"]["model"]["params"]
        assert (params["processes"], params["backend"]) == (2, "gloo")
    executor.stop_all()

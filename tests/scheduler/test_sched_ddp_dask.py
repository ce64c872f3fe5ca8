"""Data-parallel training on Dask: a distributed fit runs one rank per Dask worker (rendezvous on
a port rank 0's worker picks, passed through a Dask Variable), and a train job queued with two
processes stores a version whose manifest records how it was trained. A rank that raises, or whose
worker is killed, fails the fit in one line naming it, and the other rank ends at once: its worker
(the same process) runs the next task within seconds, not after the process group's timeout."""

from __future__ import annotations

import os
import signal
import time

import distributed
import numpy as np
import pytest

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.models.neural import LSTMModel
from engine.models.neural.distributed import TEST_EXIT_ENV, DistributedTrainingError, use_launcher
from scheduler.config import TrainingConfig
from scheduler.daemon.dask_executor import DaskExecutor, DaskRankLauncher
from scheduler.services.job_params import train_job_params
from tests.waiting import wait_until

SMALL = {"lookback": 4, "hidden_size": 4, "dropout": 0.0, "batch_size": 16, "max_epochs": 2,
         "validation_fraction": 0.0, "device": "cpu", "seed": 3}
# Long enough that the surviving rank is still training when its peer fails.
LONG = {**SMALL, "max_epochs": 200, "patience": 200}
# Far under the process group's timeout (300 s): the surviving rank must not wait it out.
ENDS_WITHIN_SECONDS = 20.0


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


def queue_goog_train(brain, training):
    """A train job of GOOG's last 400 daily bars over two ranks, queued."""
    brain.store_bars("GOOG", "1d", load_ohlcv(bundled_path("GOOG"), symbol="GOOG").tail(400))
    return brain.create_job("train", slot_key="GOOG:1d:fwd_ret_1",
                            params=train_job_params("GOOG", "1d", training, processes=2))


def test_a_train_job_with_two_processes_stores_a_version_that_records_them(client, tmp_path):
    brain_url = f"sqlite:///{tmp_path / 'brain.db'}"
    training = TrainingConfig.model_validate({
        "models": ["lstm"], "n_folds": 2, "cadence": "quick",
        "params": {"lstm": {**{k: v for k, v in SMALL.items() if k != "seed"}, "max_epochs": 1}},
    })
    executor = DaskExecutor(brain_url, client, owns_client=False)
    with open_brain(brain_url) as brain:
        job = queue_goog_train(brain, training)
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


def _worker_pids(client) -> dict[str, int]:
    return client.run(os.getpid)


def _rank_processes(client) -> dict[str, int]:
    """How many rank processes each worker still runs (multiprocessing children)."""
    import multiprocessing

    return client.run(lambda: len(multiprocessing.active_children()))


def _assert_free_at_once(client, address: str, pid: int) -> None:
    """The worker at `address` is the same process, and runs a task within seconds."""
    started = time.monotonic()
    probe = client.submit(os.getpid, workers=[address], allow_other_workers=False, pure=False)
    assert probe.result(timeout=ENDS_WITHIN_SECONDS) == pid
    assert time.monotonic() - started < ENDS_WITHIN_SECONDS


def test_a_rank_that_raises_on_dask_stops_the_other_rank_at_once(client, monkeypatch):
    generator = np.random.default_rng(1)
    X, y = generator.normal(size=(90, 2)), generator.normal(size=90)
    pids = _worker_pids(client)
    hosts = sorted(pids)
    monkeypatch.setenv(TEST_EXIT_ENV, "1:2:raise")  # rank 1 raises after its second epoch
    model = LSTMModel(**LONG, processes=2)
    with use_launcher(DaskRankLauncher(client)), pytest.raises(
        DistributedTrainingError,
        match=rf"^rank 1 of 2 failed on its Dask worker {hosts[1]}: .*TestRankFailure: rank 1 failed "
              r"after epoch 2 \(test\); no model was fitted$",
    ):
        model.fit(X, y)
    assert not hasattr(model, "network_")
    for address in hosts:  # rank 0 (blocked in a collective) was stopped; no worker was lost
        _assert_free_at_once(client, address, pids[address])
    wait_until(lambda: not any(_rank_processes(client).values()), timeout=ENDS_WITHIN_SECONDS,
               what="every rank's process ended")


def test_a_rank_whose_worker_is_killed_fails_the_fit_and_frees_the_other_at_once():
    generator = np.random.default_rng(1)
    X, y = generator.normal(size=(90, 2)), generator.normal(size=90)
    # A cluster of its own: the killed worker comes back under another address.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster.scheduler_address, set_as_default=False) as own:
        pids = _worker_pids(own)
        hosts = sorted(pids)
        killed = []

        def kill_rank_1(fraction, message, values=None):
            if values is not None and values["epoch"] == 2 and not killed:
                os.kill(pids[hosts[1]], signal.SIGKILL)
                killed.append(time.monotonic())

        with use_launcher(DaskRankLauncher(own)), pytest.raises(
            DistributedTrainingError,
            match=rf"^rank 1 of 2 died on its Dask worker {hosts[1]}: the worker left the cluster; "
                  "no model was fitted$",
        ):
            LSTMModel(**LONG, processes=2).fit(X, y, progress=kill_rank_1)
        assert killed and time.monotonic() - killed[0] < ENDS_WITHIN_SECONDS
        _assert_free_at_once(own, hosts[0], pids[hosts[0]])
        wait_until(lambda: not _rank_processes(own).get(hosts[0]), timeout=ENDS_WITHIN_SECONDS,
                   what="rank 0's process ended")


def test_a_train_job_whose_rank_fails_on_dask_fails_in_one_line_and_stores_no_version(client, tmp_path):
    brain_url = f"sqlite:///{tmp_path / 'brain.db'}"
    training = TrainingConfig.model_validate({
        "models": ["lstm"], "n_folds": 2, "cadence": "quick",
        "params": {"lstm": {**{k: v for k, v in LONG.items() if k != "seed"}}},
    })
    executor = DaskExecutor(brain_url, client, owns_client=False)
    pids = _worker_pids(client)
    # The job's task reads the hook where it runs: on a worker (a lambda, so that it runs on the
    # worker's environment, not on a pickled copy of this one).
    client.run(lambda: os.environ.__setitem__(TEST_EXIT_ENV, "1:1:raise"))
    try:
        with open_brain(brain_url) as brain:
            job = queue_goog_train(brain, training)
            executor.submit(job.id)
            codes = wait_until(executor.reap, timeout=300, what="the failing train job ended")
            done = brain.get_job(job.id)
            assert codes == {job.id: 1}, done.error  # a failed job, as a worker process exits
            assert done.state == "failed"
            assert "rank 1 of 2 failed on its Dask worker" in done.error
            assert done.error.rstrip().endswith("no model was fitted"), done.error
            assert brain.latest_version("GOOG:1d:fwd_ret_1") is None
    finally:
        client.run(lambda: os.environ.pop(TEST_EXIT_ENV, None))
    for address, pid in pids.items():
        _assert_free_at_once(client, address, pid)
    executor.stop_all()

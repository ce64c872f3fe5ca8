"""The Dask executor: jobs from the brain run as tasks on a real (loopback) Dask cluster through
the worker's own code, their results land in the brain, and CUDA jobs ask for a GPU resource or
are refused in one clear line when no worker has one."""

from __future__ import annotations

import os
import time
from pathlib import Path

import distributed
import pytest

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from scheduler.config import ConfigError, ExecutorConfig, TrainingConfig, load_config
from scheduler.daemon.dask_executor import DaskExecutor, DaskExecutorError, connect
from scheduler.daemon.executor import LocalExecutor, make_executor
from scheduler.services.job_params import train_job_params
from tests.waiting import wait_until

GOOG = "GOOG:1d:fwd_ret_1"
TINY = TrainingConfig.model_validate({"models": ["linear"], "n_folds": 2})


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes on loopback, shared by the module (starting one costs seconds)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as local:
        yield local


@pytest.fixture
def executor(cluster, any_brain_url):
    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    dask_executor = DaskExecutor(any_brain_url, client)
    yield dask_executor
    dask_executor.stop_all()


def with_goog_bars(brain_url: str) -> None:
    with open_brain(brain_url) as brain:
        brain.store_bars("GOOG", "1d", load_ohlcv(bundled_path("GOOG"), symbol="GOOG"))


def drain(executor, timeout: float = 120.0) -> dict[int, int]:
    """Reap until nothing runs; {job_id: code} of every job that ended."""
    codes: dict[int, int] = {}
    deadline = time.monotonic() + timeout
    while executor.running or executor.refused:
        assert time.monotonic() < deadline, f"jobs still running: {sorted(executor.running)}"
        codes.update(executor.reap())
        time.sleep(0.05)
    return codes


def test_jobs_run_on_the_cluster_and_their_results_land_in_the_brain(executor, any_brain_url):
    with_goog_bars(any_brain_url)
    with open_brain(any_brain_url) as brain:
        jobs = [brain.create_job("train", slot_key=GOOG, params=train_job_params("GOOG", "1d", TINY))
                for _ in range(2)]
        assert executor.capacity() == 2  # one per worker thread of the cluster
        for job in jobs:
            assert executor.has_capacity()
            executor.submit(job.id)
        assert not executor.has_capacity()
        assert drain(executor) == {job.id: 0 for job in jobs}
        finished = [brain.get_job(job.id) for job in jobs]
        assert [job.state for job in finished] == ["succeeded", "succeeded"]
        # Each ran in a Dask worker process, not in this one, and stored its own version.
        assert all(job.worker and not job.worker.endswith(f":{os.getpid()}")
                   for job in finished)
        assert sorted(v["number"] for job in finished for v in job.result["versions"]) == [1, 2]
        assert brain.latest_version(GOOG).number == 2
        assert len(brain.version_metrics(brain.latest_version(GOOG).id)) > 0


def test_a_failing_job_is_recorded_and_reaped_with_a_non_zero_code(executor, any_brain_url):
    with open_brain(any_brain_url) as brain:
        job = brain.create_job("train", params=train_job_params("NOPE", "1d", TINY))
        executor.submit(job.id)
        assert drain(executor) == {job.id: 1}
        failed = brain.get_job(job.id)
        assert failed.state == "failed" and "no 1d bars for NOPE" in failed.error


def test_a_cuda_job_without_a_gpu_worker_is_refused_at_once(executor, any_brain_url):
    with open_brain(any_brain_url) as brain:
        job = brain.create_job("train", slot_key=GOOG, device="cuda",
                               params=train_job_params("GOOG", "1d", TINY))
        assert executor.gpu_workers() == 0
        executor.submit(job.id)
        assert not executor.running  # never handed to Dask, where it would wait forever
        assert executor.reap() == {job.id: 1}
        refused = brain.get_job(job.id)
        assert refused.state == "failed"
        assert "no Dask worker" in refused.error and "GPU" in refused.error


def test_a_cuda_job_asks_the_cluster_for_a_gpu(tmp_path):
    brain_url = f"sqlite:///{tmp_path / 'brain.db'}"
    with_goog_bars(brain_url)
    # A worker that advertises one GPU (in-process: the resource is what is under test).
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  resources={"GPU": 1}, host="127.0.0.1", protocol="tcp",
                                  dashboard_address=None, worker_dashboard_address=None) as gpu_cluster, \
            open_brain(brain_url) as brain:
        executor = DaskExecutor(brain_url, distributed.Client(gpu_cluster, set_as_default=False))
        try:
            assert executor.gpu_workers() == 1
            job = brain.create_job("train", slot_key=GOOG, device="cuda",
                                   params=train_job_params("GOOG", "1d", TINY))
            executor.submit(job.id)
            future = executor.running[job.id]
            future.result(timeout=120)  # held by the executor, so still known to the scheduler
            key = future.key
            restrictions = executor.client.run_on_scheduler(
                lambda dask_scheduler: dask_scheduler.tasks[key].resource_restrictions)
            assert restrictions == {"GPU": 1}
            assert drain(executor) == {job.id: 0}
            assert brain.get_job(job.id).state == "succeeded"
        finally:
            executor.stop_all()


def test_stopping_interrupts_a_running_task_through_the_brain(executor, any_brain_url):
    """Dask cannot kill a running task; the leader marks the job interrupted and the task stops
    at its next progress report."""
    with_goog_bars(any_brain_url)
    slow = TrainingConfig.model_validate(
        {"models": ["linear", "lightgbm"], "n_folds": 5, "params": {"lightgbm": {"n_estimators": 3000}}})
    with open_brain(any_brain_url) as brain:
        job = brain.create_job("train", slot_key=GOOG, params=train_job_params("GOOG", "1d", slow))
        future_client = executor.client
        executor.owns_client = False  # the fixture's client lives on, to watch the workers
        executor.submit(job.id)
        wait_until(lambda: brain.get_job(job.id).progress != 0, 60,
                   "a first progress report (it is training on a Dask worker)")
        assert executor.stop_all() == {job.id: None}
        assert brain.interrupt_job(job.id, "leader stopped")  # what Leader.stop does
        wait_until(lambda: not any(future_client.processing().values()), 120,
                   "the Dask task to notice and return")
        assert brain.get_job(job.id).state == "interrupted"
        assert "lightgbm" not in {v.model_kind for v in brain.list_versions(GOOG)}  # it stopped
        future_client.close()


def test_executor_config_is_validated_with_the_key_named(tmp_path):
    path = tmp_path / "h.yaml"
    path.write_text("executor: {kind: dask}\n")
    with pytest.raises(ConfigError, match=r"h\.yaml: executor: address: a Dask executor needs"):
        load_config(path)
    path.write_text("executor: {kind: dask, address: 'tcp://h:8786', workers: 2}\n")
    with pytest.raises(ConfigError, match=r"executor\.workers: unknown key"):
        load_config(path)
    path.write_text("executor: {kind: dask, address: 'tls://h:8786', "
                    "tls: {ca_file: /nope/ca.pem, cert: /nope/c.pem, key: /nope/k.pem}}\n")
    with pytest.raises(ConfigError, match=r"executor\.tls\.ca_file: file not found: /nope/ca\.pem"):
        load_config(path)
    path.write_text("executor: {kind: local, max_workers: 0}\n")
    with pytest.raises(ConfigError, match=r"executor\.max_workers: Input should be greater than"):
        load_config(path)
    for name in ("ca.pem", "c.pem", "k.pem"):
        (tmp_path / name).write_text("x")
    path.write_text(f"executor: {{kind: dask, address: 'tls://h:8786', tls: {{ca_file: {tmp_path}/ca.pem, "
                    f"cert: {tmp_path}/c.pem, key: {tmp_path}/k.pem}}, max_workers: 4}}\n")
    config = load_config(path).executor
    assert (config.kind, config.address, config.max_workers, config.tls.key) == (
        "dask", "tls://h:8786", 4, f"{tmp_path}/k.pem")


def test_tls_settings_become_a_dask_security(tmp_path):
    from scheduler.daemon.dask_executor import security_from_config

    for name in ("ca.pem", "c.pem", "k.pem"):
        (tmp_path / name).write_text("x")
    files = {"ca_file": "ca.pem", "cert": "c.pem", "key": "k.pem"}
    config = ExecutorConfig.model_validate({"kind": "dask", "address": "tls://h:8786", "tls": {
        option: str(tmp_path / name) for option, name in files.items()}})
    security = security_from_config(config.tls)
    assert security.require_encryption
    assert (security.tls_ca_file, security.tls_client_cert, security.tls_client_key) == (
        str(tmp_path / "ca.pem"), str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))
    assert security_from_config(None) is None


def test_the_factory_picks_the_executor_the_config_names(cluster, tmp_path):
    url = f"sqlite:///{tmp_path / 'brain.db'}"
    local = make_executor(ExecutorConfig(), url, log_path=Path(tmp_path / "w.log"))
    assert isinstance(local, LocalExecutor) and local.max_workers == 1
    assert make_executor(ExecutorConfig(max_workers=3), url).max_workers == 3
    dask = make_executor(ExecutorConfig(kind="dask", address=cluster.scheduler_address, max_workers=5), url)
    try:
        assert isinstance(dask, DaskExecutor) and dask.capacity() == 5
    finally:
        dask.stop_all()


def test_an_unreachable_scheduler_is_one_clear_line():
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DaskExecutorError) as error:
        connect(f"tcp://127.0.0.1:{port}", timeout=1)
    message = str(error.value)
    assert message.startswith(f"executor.address: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")
    assert "\n" not in message


def test_dask_is_imported_only_for_a_dask_executor(tmp_path):
    import subprocess
    import sys

    code = ("import sys\n"
            "from scheduler.config import HuracanConfig\n"
            "from scheduler.daemon.executor import make_executor\n"
            f"executor = make_executor(HuracanConfig(), 'sqlite:///{tmp_path / 'b.db'}')\n"
            "print(type(executor).__name__, 'distributed' in sys.modules, 'dask' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["LocalExecutor", "False", "False"]

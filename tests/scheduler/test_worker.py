"""Worker processes: a job runs to its end, and every ending (success, failure, SIGTERM) is
recorded in the brain."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import polars as pl
import pytest

from brain import open_brain
from scheduler.config import TrainingConfig
from scheduler.daemon import worker
from scheduler.daemon.pause_points import PAUSE_AT_ENV, PAUSED_FILE_ENV
from scheduler.daemon.worker import run_job
from scheduler.services.job_params import train_job_params
from scheduler.services.worker_process import start_worker, worker_launch
from tests.waiting import wait_until

GOOG = "GOOG:1d:fwd_ret_1"


def wait_for_state(brain, job_id, states, timeout=60.0):
    deadline = time.monotonic() + timeout
    while (job := brain.get_job(job_id)).state not in states:
        assert time.monotonic() < deadline, f"job {job_id} stayed {job.state}"
        time.sleep(0.05)
    return job


def test_train_job_stores_new_versions_and_reports_progress(seeded_brain_url, fast_training):
    with open_brain(seeded_brain_url) as brain:
        job = brain.create_job("train", slot_key=GOOG,
                               params=train_job_params("GOOG", "1d", fast_training))
        assert run_job(brain, job.id) == "succeeded"
        done = brain.get_job(job.id)
        assert done.progress == 1.0 and done.finished_at is not None
        assert [v["number"] for v in done.result["versions"]] == [3, 4]
        assert brain.latest_version(GOOG).number == 4
        # A job runs once: a second worker finds it no longer queued.
        assert run_job(brain, job.id) == "succeeded"
        assert brain.latest_version(GOOG).number == 4


def test_a_failing_job_records_its_error(seeded_brain_url, fast_training):
    with open_brain(seeded_brain_url) as brain:
        job = brain.create_job("train", params=train_job_params("NOPE", "1d", fast_training))
        assert run_job(brain, job.id) == "failed"
        failed = brain.get_job(job.id)
        assert failed.state == "failed" and "no 1d bars for NOPE" in failed.error
        unknown = brain.create_job("teleport", params={})
        assert run_job(brain, unknown.id) == "failed"
        assert "unknown job kind 'teleport'" in brain.get_job(unknown.id).error


def test_sigterm_marks_the_running_job_interrupted(seeded_brain_url):
    slow = TrainingConfig.model_validate(
        {"models": ["lightgbm"], "n_folds": 3, "params": {"lightgbm": {"n_estimators": 20000}}})
    with open_brain(seeded_brain_url) as brain:
        job = brain.create_job("train", slot_key="EURUSD:1h:fwd_ret_1",
                               params=train_job_params("EURUSD", "1h", slow))
        command, env = worker_launch(seeded_brain_url, job.id)
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for_state(brain, job.id, {"running"})
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 143, process.stderr.read()
        stopped = brain.get_job(job.id)
        assert stopped.state == "interrupted" and "SIGTERM" in stopped.message
        assert brain.latest_version("EURUSD:1h:fwd_ret_1").number == 2  # nothing half-stored
    assert sys.executable  # the worker ran under this interpreter


def test_a_sigterm_between_claim_and_runner_still_ends_the_job_interrupted(seeded_brain_url, tmp_path):
    """CI once saw a SIGTERM land right after the claim, before the runner's own handler was in
    place: the worker exited 143 and left its job 'running'."""
    with open_brain(seeded_brain_url) as brain:
        job = brain.create_job("train", slot_key="EURUSD:1h:fwd_ret_1",
                               params=train_job_params("EURUSD", "1h", TrainingConfig()))
        command, env = worker_launch(seeded_brain_url, job.id)
        paused = tmp_path / "paused"
        env = {**env, PAUSE_AT_ENV: "claimed", PAUSED_FILE_ENV: str(paused)}
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(paused.exists, timeout=60, what="the worker paused after its claim")
        assert brain.get_job(job.id).state == "running"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 143, process.stderr.read()
        stopped = brain.get_job(job.id)
        assert stopped.state == "interrupted" and "SIGTERM" in stopped.message


def test_a_worker_stops_with_the_process_it_was_told_to_exit_with(seeded_brain_url, tmp_path):
    """A console's workers: when the console ends however it ends (here a kill -9, as a Pilot
    test's pytest killed by a timeout did), its running job ends interrupted and the worker exits,
    instead of training on with nobody watching."""
    console = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open_brain(seeded_brain_url) as brain:
        job = brain.create_job("train", slot_key="EURUSD:1h:fwd_ret_1",
                               params=train_job_params("EURUSD", "1h", TrainingConfig()))
        command, env = worker_launch(seeded_brain_url, job.id, exit_with=console.pid)
        paused = tmp_path / "paused"
        env = {**env, PAUSE_AT_ENV: "claimed", PAUSED_FILE_ENV: str(paused)}
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until(paused.exists, timeout=60, what="the worker paused after its claim")
            assert process.poll() is None and brain.get_job(job.id).state == "running"
            console.kill()
            console.wait()
            assert process.wait(timeout=60) == 143, process.stderr.read()
        finally:
            process.kill()
        stopped = brain.get_job(job.id)
        assert stopped.state == "interrupted" and "SIGTERM" in stopped.message


def test_a_worker_gets_the_brain_url_from_its_environment_not_its_command_line(seeded_brain_url):
    """`ps` shows every user each process's command line; a URL may hold a password."""
    slow = TrainingConfig.model_validate(
        {"models": ["lightgbm"], "n_folds": 3, "params": {"lightgbm": {"n_estimators": 20000}}})
    with open_brain(seeded_brain_url) as brain:
        job = brain.create_job("train", slot_key="EURUSD:1h:fwd_ret_1",
                               params=train_job_params("EURUSD", "1h", slow))
        process = start_worker(seeded_brain_url, job.id)
        try:
            wait_for_state(brain, job.id, {"running"})  # it opened the brain: the URL reached it
            cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode()
            assert "--job" in cmdline and str(job.id) in cmdline
            assert seeded_brain_url not in cmdline and "sqlite" not in cmdline
        finally:
            process.terminate()
            process.wait(timeout=60)


@pytest.fixture
def stop_handlers():
    """The worker's SIGTERM / SIGINT handlers in this process, restored afterwards."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    worker.install_stop_handlers()
    yield
    worker._stop_signal = None
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def test_a_stop_arriving_inside_native_code_is_still_a_stop(stop_handlers):
    """The handler raises wherever the main thread is. Inside polars calling back into Python,
    what unwinds may be polars' error (or a pyo3 panic), not Interrupted: it is still the stop.
    CI once saw a SIGTERM end a worker with exit 1 and its job left running that way."""
    assert worker.stopped_by(ValueError("a job's own error")) is None

    def terminated_mid_call(value):
        signal.raise_signal(signal.SIGTERM)  # the handler runs here, inside polars' Rust frames
        return value

    with pytest.raises(BaseException) as unwound:
        pl.DataFrame({"x": [1, 2, 3]}).select(
            pl.col("x").map_batches(terminated_mid_call, return_dtype=pl.Int64))
    assert worker.stopped_by(unwound.value) == "SIGTERM"
    assert worker.stopped_by(RuntimeError("wrapped by a library")) == "SIGTERM"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_stop_python_swallowed_still_stops_the_job(seeded_brain_url, fast_training, stop_handlers):
    """A SIGTERM landing in a weakref callback (importlib's module locks have one) is printed as
    "Exception ignored" and goes no further: a stress run saw such a worker train on to
    `succeeded`. The next progress report stops the job instead, with nothing stored."""
    class Collected:
        pass

    doomed = Collected()
    watcher = weakref.ref(doomed, lambda _ref: signal.raise_signal(signal.SIGTERM))
    del doomed  # the handler's Interrupted is raised inside the callback, where Python drops it
    assert watcher() is None and worker._stop_signal == "SIGTERM"
    with open_brain(seeded_brain_url) as brain:
        job = brain.create_job("train", slot_key=GOOG,
                               params=train_job_params("GOOG", "1d", fast_training))
        assert run_job(brain, job.id) == "interrupted"
        assert brain.get_job(job.id).message == "worker stopped by SIGTERM"
        assert brain.latest_version(GOOG).number == 2


def test_a_cancelled_job_stops_its_worker_and_stays_cancelled(seeded_brain_url):
    slow = TrainingConfig.model_validate(
        {"models": ["linear", "lightgbm"], "n_folds": 3, "params": {"lightgbm": {"n_estimators": 3000}}})
    with open_brain(seeded_brain_url) as brain:
        job = brain.create_job("train", slot_key="EURUSD:1h:fwd_ret_1",
                               params=train_job_params("EURUSD", "1h", slow))
        command, env = worker_launch(seeded_brain_url, job.id)
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for_state(brain, job.id, {"running"})
        wait_until(lambda: brain.get_job(job.id).progress != 0, 60,
                   "a first progress report (it is training)")
        assert brain.cancel_job(job.id)
        assert process.wait(timeout=120) == 0, process.stderr.read()
        assert brain.get_job(job.id).state == "cancelled"


def test_every_retrain_stores_the_models_own_feature_importance(seeded_brain_url):
    from engine.features import FEATURES

    with open_brain(seeded_brain_url) as brain:
        for version in brain.list_versions(GOOG):  # v1 linear, v2 lightgbm, from train_slot
            stored = brain.feature_importance(version.id, method="native")
            assert sorted(row["feature"] for row in stored) == sorted(FEATURES)
            assert sorted(row["rank"] for row in stored) == list(range(1, len(FEATURES) + 1))
            assert abs(sum(row["value"] for row in stored) - 1.0) < 1e-9  # shares

"""kill -9 at the worst moments leaves the brain consistent, and no job is lost.

A real worker process trains a real job; a test-only pause point (scheduler.daemon.pause_points)
holds it at a known phase, where the test kills it with SIGKILL. Then: the database is sound,
every version has its artifact and every artifact its version, the leader's check marks the
job interrupted and queues it again, and a leader run completes it. The same for the leader
itself, killed right after it dispatched a job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from brain import Brain, open_brain
from brain.schema import artifacts, model_versions
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from scheduler.config import HuracanConfig, TrainingConfig
from scheduler.daemon.executor import LocalExecutor
from scheduler.daemon.headless import Leader
from scheduler.daemon.lease import LeaderLease
from scheduler.daemon.pause_points import PAUSE_AT_ENV, PAUSED_FILE_ENV
from scheduler.services.job_params import train_job_params
from scheduler.services.worker_process import worker_launch
from tests.conftest import FAST_TRAINING, write_config
from tests.waiting import wait_until

BIN = Path(sys.executable).parent
SLOT = "GOOG:1d:fwd_ret_1"
# FAST_TRAINING's settings with its gradient-boosting kind alone, on the last 400 bars: the
# kills need a few progress reports and a stored version, not a zoo.
TRAINING = {**FAST_TRAINING, "models": ["lightgbm"]}


def seed_bars(brain: Brain) -> None:
    brain.store_bars("GOOG", "1d", load_ohlcv(bundled_path("GOOG"), symbol="GOOG").tail(400))


def queue_train_job(brain: Brain) -> int:
    training = TrainingConfig.model_validate(TRAINING)
    return brain.create_job("train", slot_key=SLOT, params=train_job_params("GOOG", "1d", training)).id


def paused_worker(brain_url: str, job_id: int, phase: str, paused_file: Path) -> subprocess.Popen:
    command, env = worker_launch(brain_url, job_id)
    return subprocess.Popen(command, env={**env, PAUSE_AT_ENV: phase, PAUSED_FILE_ENV: str(paused_file)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def assert_consistent(brain: Brain) -> None:
    with brain._read() as conn:  # checking storage itself, under the API
        if brain.backend == "sqlite":
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
        stored = set(conn.execute(select(artifacts.c.sha256)).scalars())
        referenced = set(conn.execute(select(model_versions.c.artifact_sha256)).scalars())
    assert stored == referenced, {"artifacts without a version": stored - referenced,
                                  "versions without an artifact": referenced - stored}


def kill_workers_at(brain_url: str, phases: dict[str, int], tmp_path: Path) -> None:
    """Run each job in a worker paused at its phase; once all have paused, SIGKILL them."""
    workers = {phase: paused_worker(brain_url, job_id, phase, tmp_path / f"paused-{phase}")
               for phase, job_id in phases.items()}
    try:
        for phase, worker in workers.items():
            paused = tmp_path / f"paused-{phase}"
            wait_until(lambda paused=paused, worker=worker: paused.exists()
                       and paused.read_text() == str(worker.pid), 90, f"the worker to pause at {phase}")
    finally:
        for worker in workers.values():
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)


def test_killed_workers_leave_a_consistent_brain_and_their_jobs_are_run_again(any_brain_url, tmp_path):
    with open_brain(any_brain_url) as brain:
        seed_bars(brain)
        killed = {phase: queue_train_job(brain) for phase in ("progress", "midway", "store")}
        # Two at once to save time; "store" alone, as it holds SQLite's write lock while paused.
        kill_workers_at(any_brain_url, {phase: killed[phase] for phase in ("progress", "midway")}, tmp_path)
        kill_workers_at(any_brain_url, {"store": killed["store"]}, tmp_path)
        for phase, job_id in killed.items():
            job = brain.get_job(job_id)
            assert job.state == "running"  # the dead worker could not say otherwise
            assert job.progress > 0 if phase == "progress" else job.progress >= 0.5, (phase, job)
            assert_consistent(brain)
        # The version being stored when its worker died is not there, nor its artifact.
        assert brain.list_versions(SLOT) == []

        leader = Leader(brain, HuracanConfig.model_validate({"training": TRAINING}),
                        LocalExecutor(any_brain_url, max_workers=3))
        lease = LeaderLease(brain)
        assert lease.try_acquire()
        try:
            requeued = leader.reap_dead_jobs()
            assert len(requeued) == 3
            for job_id in killed.values():
                job = brain.get_job(job_id)
                assert job.state == "interrupted" and "is gone" in job.message, job
            assert leader.reap_dead_jobs() == []  # each dead job is queued again once only

            def all_done() -> bool:
                leader.dispatch()
                return all(brain.get_job(job_id).state == "succeeded" for job_id in requeued)

            wait_until(all_done, 120, "the requeued jobs to complete")
        finally:
            leader.stop()
            lease.release()
        assert len(brain.list_versions(SLOT)) == 3
        assert_consistent(brain)


def test_a_job_whose_worker_died_before_claiming_it_is_dispatched_again(any_brain_url, tmp_path,
                                                                       monkeypatch):
    paused = tmp_path / "paused-claim"
    with open_brain(any_brain_url) as brain:
        seed_bars(brain)
        job_id = queue_train_job(brain)
        leader = Leader(brain, HuracanConfig.model_validate({"training": TRAINING}),
                        LocalExecutor(any_brain_url, max_workers=1))
        lease = LeaderLease(brain)
        assert lease.try_acquire()
        try:
            monkeypatch.setenv(PAUSE_AT_ENV, "claim")  # the workers it starts inherit this
            monkeypatch.setenv(PAUSED_FILE_ENV, str(paused))
            leader.dispatch()
            wait_until(paused.exists, 90, "the worker to pause before its claim")
            os.kill(int(paused.read_text()), signal.SIGKILL)
            monkeypatch.delenv(PAUSE_AT_ENV)
            assert brain.get_job(job_id).state == "queued"  # never claimed

            def done() -> bool:
                leader.dispatch()
                return brain.get_job(job_id).state == "succeeded"

            wait_until(done, 120, "the job to be dispatched again and to succeed")
        finally:
            leader.stop()
            lease.release()
        assert len(brain.list_versions(SLOT)) == 1


def test_a_leader_killed_mid_dispatch_loses_no_job(any_brain_url, tmp_path):
    config = write_config(tmp_path / "h.yaml", training=TRAINING,
                          schedule={"retrain_every": "1h", "dispatch_every": "1s"})
    with open_brain(any_brain_url) as brain:
        seed_bars(brain)
        job_id = queue_train_job(brain)
        paused = tmp_path / "paused-dispatch"
        command = [str(BIN / "huracan-tui"), "--headless", "--brain", any_brain_url, "--config", str(config)]
        env = {**os.environ, PAUSE_AT_ENV: "dispatch", PAUSED_FILE_ENV: str(paused),
               "XDG_STATE_HOME": str(tmp_path / "state")}
        first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            wait_until(paused.exists, 60, "the leader to pause right after dispatching")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        assert_consistent(brain)

        log = tmp_path / "second.log"
        with open(log, "wb") as out:
            env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
            second = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            # Its worker outlived it (its own session) or the new leader starts one: either
            # way the job runs exactly once.
            wait_until(lambda: brain.get_job(job_id).state == "succeeded"
                       or brain.list_jobs(states=["succeeded"]), 120, "the job to complete")
            jobs = brain.list_jobs(limit=20)
            assert [job.state for job in jobs if job.state not in ("succeeded", "interrupted")] == []
            assert len([job for job in jobs if job.state == "succeeded"]) == 1
            assert len(brain.list_versions(SLOT)) == 1
            assert_consistent(brain)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=60)
        assert second.returncode == 0 and "Traceback" not in log.read_text(), log.read_text()

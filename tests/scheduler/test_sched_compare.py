"""The `compare` job: a worker process replays champion and challenger on the champion's folds
and stores one model_comparisons row per test, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess

from brain import open_brain
from engine import abtest
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from scheduler.services.comparison import overall_verdict
from scheduler.services.job_params import JOB_KINDS, compare_job_params
from scheduler.services.training import train_slot
from scheduler.services.worker_process import worker_launch

GOOG = "GOOG:1d:fwd_ret_1"
BARS = 700  # small: versions train and replay in seconds


def test_a_compare_job_runs_in_a_worker_and_stores_the_comparison(any_brain_url, fast_training):
    assert "compare" in JOB_KINDS
    with open_brain(any_brain_url) as brain:
        brain.store_bars("GOOG", "1d", load_ohlcv(bundled_path("GOOG"), symbol="GOOG").tail(BARS))
        linear = fast_training.model_copy(update={"models": ["linear"]})  # quick: one kind, twice
        assert [v.number for v in train_slot(brain, "GOOG", "1d", linear)] == [1]
        assert [v.number for v in train_slot(brain, "GOOG", "1d", linear)] == [2]
        job = brain.create_job("compare", slot_key=GOOG, params=compare_job_params(1, [2], n_boot=100))
        command, env = worker_launch(any_brain_url, job.id)
        worker = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert worker.returncode == 0, worker.stderr
        done = brain.get_job(job.id)
        assert done.state == "succeeded", done.error
        stored = brain.list_comparisons(GOOG)
        assert {row["test"] for row in stored} == set(abtest.TESTS)
        assert {(row["champion_version"], row["challenger_version"]) for row in stored} == {(1, 2)}
        assert all(row["correction"] == "holm" and row["details"]["alpha"] == 0.05 for row in stored)
        assert done.result["overall"] == {"v2": overall_verdict([row["verdict"] for row in stored])}
        assert done.result["best_model"] in ("v1", "v2") and done.result["periods"] > 0


def test_a_compare_job_with_a_missing_version_fails_with_the_reason(any_brain_url, fast_training):
    from scheduler.daemon.worker import run_job

    with open_brain(any_brain_url) as brain:
        brain.store_bars("GOOG", "1d", load_ohlcv(bundled_path("GOOG"), symbol="GOOG").tail(BARS))
        train_slot(brain, "GOOG", "1d", fast_training.model_copy(update={"models": ["linear"]}))
        job = brain.create_job("compare", slot_key=GOOG, params=compare_job_params(1, [9]))
        assert run_job(brain, job.id) == "failed"
        assert "has no version 9" in brain.get_job(job.id).error
        assert brain.list_comparisons(GOOG) == []


def test_overall_verdict_is_the_agreeing_finding_or_mixed():
    assert overall_verdict(["no_difference", "no_difference"]) == "no_difference"
    assert overall_verdict(["challenger_better", "no_difference"]) == "challenger_better"
    assert overall_verdict(["challenger_better", "champion_better"]) == "mixed"

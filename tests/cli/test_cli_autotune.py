"""`huracan auto-tune` as a user runs it: studies stored in the brain's database, on SQLite and
PostgreSQL, shared by successive runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from brain import open_brain
from engine.datasets import bundled_path

BIN = Path(sys.executable).parent
FAST = (
    "--kinds",
    "linear,lightgbm",
    "--folds",
    "2",
    "--params",
    "lightgbm.n_estimators=10",
    "--params",
    "lightgbm.n_jobs=1",
)


def huracan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "huracan"), *args], capture_output=True, text=True, timeout=240, env=dict(os.environ)
    )


@pytest.fixture(scope="module")
def small_goog(tmp_path_factory) -> Path:
    from engine.data import load_ohlcv

    path = tmp_path_factory.mktemp("data") / "goog.csv"
    load_ohlcv(bundled_path("GOOG"), symbol="GOOG").tail(500).write_csv(path)
    return path


def test_auto_tune_stores_its_study_in_the_brain(small_goog, any_brain_url):
    args = (
        "auto-tune",
        "--data",
        str(small_goog),
        "--symbol",
        "GOOG",
        *FAST,
        "--brain",
        any_brain_url,
        "--json",
    )
    first = huracan(*args, "--trials", "3")
    assert first.returncode == 0, first.stderr
    document = json.loads(first.stdout)
    assert document["study"] == "GOOG:1d:fwd_ret_1" and document["metric"] == "sharpe"
    assert document["best"]["kind"] in ("linear", "lightgbm")
    assert document["trials"]["this_run"] == document["trials"]["total"] == 3
    assert set(document["holdout"]) >= {"score", "metrics", "rows", "start", "end"}
    assert document["tuning"]["end"] < document["holdout"]["start"]

    again = huracan(*args, "--trials", "2")  # a second worker (here: later) joins the same study
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["trials"] == {
        **json.loads(again.stdout)["trials"],
        "this_run": 2,
        "total": 5,
    }
    study = optuna.load_study(study_name="GOOG:1d:fwd_ret_1", storage=any_brain_url)
    assert len(study.trials) == 5
    with open_brain(any_brain_url) as brain:  # the brain beside Optuna's tables still works
        assert brain.list_slots() == []


def test_auto_tune_prints_a_readable_summary(small_goog, tmp_path):
    done = huracan(
        "auto-tune",
        "--data",
        str(small_goog),
        "--symbol",
        "GOOG",
        *FAST,
        "--trials",
        "2",
        "--study",
        "mine",
        "--brain",
        f"sqlite:///{tmp_path / 'brain.db'}",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("study mine: 2 trials run") and "never seen by any trial" in done.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--kinds", "linear,gradient_magic"), "--kinds: unknown model kind gradient_magic"),
        (("--params", "n_estimators=3"), "--params 'n_estimators=3': use KIND.NAME=VALUE"),
    ],
)
def test_auto_tune_refuses_bad_requests_in_one_line(small_goog, tmp_path, extra, message):
    done = huracan(
        "auto-tune",
        "--data",
        str(small_goog),
        "--symbol",
        "GOOG",
        "--trials",
        "1",
        *extra,
        "--brain",
        f"sqlite:///{tmp_path / 'brain.db'}",
    )
    assert done.returncode == 2 and message in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr

"""engine.tuning: Optuna over the walk-forward objective, a holdout no trial sees, studies shared
through a database."""

from __future__ import annotations

import threading
from datetime import datetime

import numpy as np
import optuna
import polars as pl
import pytest
from sqlalchemy import create_engine, inspect

from brain import open_brain, schema
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.tuning import SEARCH_SPACES, tune

FAST = {"lightgbm": {"n_estimators": 10, "n_jobs": 1}}


@pytest.fixture(scope="module")
def goog():
    return load_ohlcv(bundled_path("GOOG"), symbol="GOOG").tail(400)


def run(frame, **options):
    settings = {
        "timeframe": "1d",
        "kinds": ["linear", "lightgbm"],
        "n_trials": 4,
        "n_folds": 2,
        "fixed_params": FAST,
        "seed": 3,
    }
    return tune(frame, **{**settings, **options})


def test_tune_reports_best_params_and_a_separate_holdout_score(goog):
    result = run(goog)
    assert result.best_kind in ("linear", "lightgbm") and result.trials_run == result.trials_total == 4
    assert set(result.best_params) <= set(SEARCH_SPACES[result.best_kind]) | set(
        FAST.get(result.best_kind, {})
    )
    assert np.isfinite(result.best_score) and np.isfinite(result.holdout_score)
    assert result.holdout_score == result.holdout_metrics["sharpe"]
    assert result.holdout_rows == pytest.approx(0.2 * (result.tuning_rows + 1 + result.holdout_rows), abs=1)
    # The tuning region ends before the holdout starts, with the horizon's purge in between.
    assert result.tuning_end < result.holdout_start
    assert result.search_space["lightgbm"]["n_estimators"] == "fixed 10"


def _shuffled_after(frame: pl.DataFrame, start: str, seed: int) -> pl.DataFrame:
    """The same bars up to `start`; from there on, prices scaled bar by bar at random (still
    valid OHLC), so anything computed from them changes."""
    after = pl.col("ts") >= datetime.fromisoformat(start)
    factor = pl.Series(np.random.default_rng(seed).uniform(0.7, 1.3, frame.height))
    return frame.with_columns(
        [
            pl.when(after).then(pl.col(name) * factor).otherwise(pl.col(name)).alias(name)
            for name in ("open", "high", "low", "close")
        ]
    )


def test_no_trial_sees_the_holdout(goog, tmp_path):
    """Trials on two frames that differ only inside the holdout are identical trial by trial;
    were a trial to fit or score any holdout row, its value would change. The holdout score
    (the one look at those rows) does change, which shows the change matters."""
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    original = run(goog, storage=url, study_name="original", n_trials=6)
    altered_frame = _shuffled_after(goog, original.holdout_start, seed=1)
    assert altered_frame.filter(pl.col("ts") < datetime.fromisoformat(original.holdout_start)).equals(
        goog.filter(pl.col("ts") < datetime.fromisoformat(original.holdout_start))
    )
    altered = run(altered_frame, storage=url, study_name="altered", n_trials=6)
    trials = {
        name: [
            (t.state, t.params, t.value, t.intermediate_values)
            for t in optuna.load_study(study_name=name, storage=url).trials
        ]
        for name in ("original", "altered")
    }
    assert trials["original"] == trials["altered"]
    assert (original.best_kind, original.best_params) == (altered.best_kind, altered.best_params)
    assert original.holdout_metrics != altered.holdout_metrics


def test_two_workers_share_one_study_in_the_brain(goog, tmp_path):
    url = f"sqlite:///{tmp_path / 'brain.db'}"
    open_brain(url).close()
    errors, results = [], []

    def worker(seed: int) -> None:
        try:
            results.append(run(goog, storage=url, study_name="GOOG:1d:fwd_ret_1", n_trials=2, seed=seed))
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    study = optuna.load_study(study_name="GOOG:1d:fwd_ret_1", storage=url)
    assert len(study.trials) == 4 == sum(r.trials_run for r in results)
    # Optuna's tables sit beside the brain's, and the brain still opens and works.
    tables = set(inspect(create_engine(url)).get_table_names())
    assert set(schema.metadata.tables) <= tables and {"studies", "trials"} <= tables
    with open_brain(url) as brain:
        assert brain.list_slots() == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kinds": ["nope"]}, "unknown model kind 'nope'"),
        ({"kinds": []}, "name at least one model kind"),
        ({"metric": "profit"}, "unknown metric 'profit'"),
        ({"metric": "accuracy"}, "needs classifier kinds only"),
        ({"n_trials": 0}, "n_trials must be"),
    ],
)
def test_bad_requests_say_what_is_wrong(goog, options, message):
    with pytest.raises(ValueError, match=message):
        run(goog, **options)

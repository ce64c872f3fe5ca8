"""Time-series cross-validation for tuning: scikit-learn's TimeSeriesSplit, purged and embargoed."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from sklearn.model_selection import TimeSeriesSplit

from engine.validation import Fold, time_series_cv


@pytest.mark.parametrize(
    ("n_rows", "n_splits", "horizon", "embargo", "max_train_size", "test_size"),
    list(itertools.product([30, 101, 500], [2, 3, 5], [1, 5], [0, 2], [None, 20], [None, 4])),
)
def test_agrees_with_sklearn_time_series_split(n_rows, n_splits, horizon, embargo, max_train_size, test_size):
    gap = horizon + embargo
    splitter = TimeSeriesSplit(n_splits, max_train_size=max_train_size, test_size=test_size, gap=gap)
    try:
        expected = list(splitter.split(np.zeros(n_rows)))
    except ValueError:  # sklearn finds too few rows: so must we
        with pytest.raises(ValueError, match="not enough rows"):
            time_series_cv(n_rows, n_splits, horizon, embargo, max_train_size, test_size)
        return
    folds = time_series_cv(n_rows, n_splits, horizon, embargo, max_train_size, test_size)
    assert len(folds) == len(expected) == n_splits
    for fold, (train, test) in zip(folds, expected, strict=True):
        np.testing.assert_array_equal(np.arange(fold.train_start, fold.train_end), train)
        np.testing.assert_array_equal(np.arange(fold.test_start, fold.test_end), test)
        # purged: no training row's target (which spans `horizon` bars) reaches the block
        assert fold.train_end - 1 + horizon < fold.test_start
        assert fold.test_start - fold.train_end == horizon + embargo


def test_small_example_by_hand():
    # 20 rows, 3 splits -> blocks of 20 // 4 = 5 rows: [5,10) [10,15) [15,20); purge 2, embargo 1.
    assert time_series_cv(20, 3, horizon=2, embargo=1) == [
        Fold(0, 0, 2, 5, 10),
        Fold(1, 0, 7, 10, 15),
        Fold(2, 0, 12, 15, 20),
    ]
    assert time_series_cv(20, 3, horizon=2, embargo=1, max_train_size=4)[2] == Fold(2, 8, 12, 15, 20)


def test_folds_are_plain_data():
    folds = time_series_cv(50, 3, horizon=1)
    records = json.loads(json.dumps([fold.to_dict() for fold in folds]))
    assert [Fold(**record) for record in records] == folds


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_rows": 10, "n_splits": 9}, "not enough rows"),
        ({"n_rows": 12, "n_splits": 3, "horizon": 3}, "not enough rows"),
        ({"n_rows": 100, "n_splits": 3, "test_size": 40}, "not enough rows"),
        ({"n_rows": 100, "n_splits": 1}, "n_splits"),
        ({"n_rows": 100, "horizon": 0}, "horizon"),
        ({"n_rows": 100, "embargo": -1}, "embargo"),
        ({"n_rows": 100, "max_train_size": 0}, "max_train_size"),
        ({"n_rows": 100, "test_size": 2.5}, "test_size"),
        ({"n_rows": True}, "n_rows"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        time_series_cv(**kwargs)


def test_too_few_rows_is_refused_where_sklearn_refuses_too():
    with pytest.raises(ValueError):
        list(TimeSeriesSplit(3, gap=3).split(np.zeros(12)))
    with pytest.raises(ValueError, match="not enough rows"):
        time_series_cv(12, 3, horizon=3)

"""Walk-forward folds are purged, ordered, and cover the test region exactly."""

from __future__ import annotations

import itertools
import math

import pytest

from engine.validation import Fold, walk_forward_folds


@pytest.mark.parametrize(
    ("n_rows", "n_folds", "horizon", "embargo", "fraction", "window"),
    list(itertools.product([60, 101, 500], [1, 3, 5], [1, 5], [0, 3], [0.5, 0.7],
                           ["expanding", "sliding"])),
)  # fmt: skip
def test_folds_are_purged_and_cover_the_test_region(n_rows, n_folds, horizon, embargo, fraction, window):
    folds = walk_forward_folds(n_rows, n_folds, horizon, embargo, fraction, window)
    assert [fold.index for fold in folds] == list(range(n_folds))
    assert folds[0].test_start == math.ceil(n_rows * fraction)
    assert folds[-1].test_end == n_rows
    sizes = [fold.test_end - fold.test_start for fold in folds]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1
    first_train_length = folds[0].train_end - folds[0].train_start
    for previous, fold in itertools.pairwise(folds):
        assert previous.test_end == fold.test_start  # contiguous, no overlap, no hole
    for fold in folds:
        train = range(fold.train_start, fold.train_end)
        test = range(fold.test_start, fold.test_end)
        assert len(train) >= 1 and fold.train_start >= 0
        assert max(train) + horizon < fold.test_start  # no training target reaches the test
        assert fold.test_start - fold.train_end == horizon + embargo
        assert not set(train) & set(test)
        if window == "expanding":
            assert fold.train_start == 0
        else:
            assert len(train) == first_train_length


def test_fold_to_dict():
    fold = Fold(index=2, train_start=0, train_end=40, test_start=41, test_end=50)
    assert fold.to_dict() == {"index": 2, "train_start": 0, "train_end": 40, "test_start": 41,
                              "test_end": 50}  # fmt: skip


def test_small_example_by_hand():
    # 10 rows, half for training: test rows 5..9 in blocks [5,7) [7,9) [9,10); purge 1 row.
    assert walk_forward_folds(10, n_folds=3, horizon=1) == [
        Fold(0, 0, 4, 5, 7),
        Fold(1, 0, 6, 7, 9),
        Fold(2, 0, 8, 9, 10),
    ]
    assert walk_forward_folds(10, n_folds=3, horizon=1, window="sliding")[2] == Fold(2, 4, 8, 9, 10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_rows": 10, "n_folds": 6}, "not enough rows"),
        ({"n_rows": 10, "n_folds": 2, "horizon": 5}, "not enough rows"),
        ({"n_rows": 100, "n_folds": 3, "horizon": 20, "embargo": 30}, "not enough rows"),
        ({"n_rows": 0}, "n_rows"),
        ({"n_rows": 100, "n_folds": 0}, "n_folds"),
        ({"n_rows": 100, "horizon": 0}, "horizon"),
        ({"n_rows": 100, "embargo": -1}, "embargo"),
        ({"n_rows": 100, "min_train_fraction": 1.0}, "min_train_fraction"),
        ({"n_rows": 100, "min_train_fraction": 0}, "min_train_fraction"),
        ({"n_rows": 100, "window": "rolling"}, "window"),
        ({"n_rows": 100.0}, "n_rows"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        walk_forward_folds(**kwargs)

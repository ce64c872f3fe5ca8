"""Walk-forward folds with purging, so no training target overlaps the period it is tested on."""

from __future__ import annotations

from dataclasses import asdict, dataclass

WINDOWS = ("expanding", "sliding")


@dataclass(frozen=True)
class Fold:
    """Row positions of one fold; both ranges are half-open [start, end)."""

    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def walk_forward_folds(
    n_rows: int,
    n_folds: int = 5,
    horizon: int = 1,
    embargo: int = 0,
    min_train_fraction: float = 0.5,
    window: str = "expanding",
) -> list[Fold]:
    """Split rows 0..n_rows-1 (in time order) into walk-forward folds.

    The last (1 - min_train_fraction) of the rows form the test region, cut into `n_folds`
    consecutive blocks (earlier blocks take the remainder rows). Each fold trains only on rows
    before its test block, ending at test_start - horizon - embargo:

    - purge (`horizon` rows): row t's target spans bars t..t+horizon, so the rows just before
      the test block have targets that reach into it and are dropped;
    - embargo (`embargo` extra rows): in a forward walk no training row ever follows a test
      block, so the embargo is applied as a further gap before each test block; it guards
      against serial correlation (e.g. 20-bar rolling features) straddling the boundary.

    "expanding" trains on everything from row 0; "sliding" keeps every fold's training length
    equal to the first fold's. Raises ValueError when the arguments or row count don't allow
    at least one training row and one test row per fold.
    """
    _check_arguments(n_rows, n_folds, horizon, embargo, min_train_fraction, window)
    first_test_start = _ceil(n_rows * min_train_fraction)
    test_rows = n_rows - first_test_start
    if test_rows < n_folds:
        raise ValueError(
            f"not enough rows: {n_rows} rows leave {test_rows} test rows after the first "
            f"{min_train_fraction:.0%} for training; {n_folds} folds need at least {n_folds}"
        )
    gap = horizon + embargo
    first_train_length = first_test_start - gap
    if first_train_length < 1:
        raise ValueError(
            f"not enough rows: the first fold's {first_test_start} rows before its test block "
            f"leave no training rows after purging {horizon} and embargoing {embargo}"
        )
    folds = []
    block, remainder = divmod(test_rows, n_folds)
    test_start = first_test_start
    for index in range(n_folds):
        test_end = test_start + block + (1 if index < remainder else 0)
        train_end = test_start - gap
        train_start = 0 if window == "expanding" else train_end - first_train_length
        folds.append(Fold(index, train_start, train_end, test_start, test_end))
        test_start = test_end
    return folds


def time_series_cv(
    n_rows: int,
    n_splits: int = 5,
    horizon: int = 1,
    embargo: int = 0,
    max_train_size: int | None = None,
    test_size: int | None = None,
) -> list[Fold]:
    """Forward-chaining cross-validation folds for tuning, purged like `walk_forward_folds`.

    The same splits as scikit-learn's `TimeSeriesSplit(n_splits, max_train_size=max_train_size,
    test_size=test_size, gap=horizon + embargo)`, as `Fold` records: the last
    n_splits * test_size rows (test_size defaults to n_rows // (n_splits + 1)) are cut into
    `n_splits` equal validation blocks, and each fold trains on the rows before its block,
    ending `horizon` (purge) + `embargo` rows before it. Rows before the first block that
    don't fill a whole block go to training. With `max_train_size` a fold trains on at most
    that many of the latest rows before its gap (a sliding window); without it the window
    expands from row 0. Raises ValueError when a fold would get no training or validation row.
    """
    _check_whole_numbers(
        [("n_rows", n_rows, 1), ("n_splits", n_splits, 2), ("horizon", horizon, 1), ("embargo", embargo, 0)]
    )
    _check_optional_size("max_train_size", max_train_size)
    _check_optional_size("test_size", test_size)
    block = test_size if test_size is not None else n_rows // (n_splits + 1)
    gap = horizon + embargo
    first_test_start = n_rows - n_splits * block
    if block < 1 or first_test_start - gap < 1:
        raise ValueError(
            f"not enough rows: {n_rows} rows cannot hold {n_splits} validation blocks of "
            f"{max(block, 1)} row(s) after at least one training row, a purge of {horizon} and "
            f"an embargo of {embargo}"
        )
    folds = []
    for index in range(n_splits):
        test_start = first_test_start + index * block
        train_end = test_start - gap
        train_start = 0 if max_train_size is None else max(0, train_end - max_train_size)
        folds.append(Fold(index, train_start, train_end, test_start, test_start + block))
    return folds


def _check_whole_numbers(checks: list[tuple[str, object, int]]) -> None:
    for name, value, lowest in checks:
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
            raise ValueError(f"{name} must be a whole number >= {lowest}, got {value!r}")


def _check_optional_size(name: str, value: object) -> None:
    if value is not None:
        _check_whole_numbers([(name, value, 1)])


def _check_arguments(n_rows, n_folds, horizon, embargo, min_train_fraction, window) -> None:
    _check_whole_numbers(
        [("n_rows", n_rows, 1), ("n_folds", n_folds, 1), ("horizon", horizon, 1), ("embargo", embargo, 0)]
    )
    if not 0 < min_train_fraction < 1:
        raise ValueError(f"min_train_fraction must be between 0 and 1, got {min_train_fraction!r}")
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}, got {window!r}")


def _ceil(value: float) -> int:
    whole = int(value)
    return whole if whole == value else whole + 1

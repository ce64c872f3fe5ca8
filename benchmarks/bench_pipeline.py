"""The whole pipeline against bare LightGBM: `engine.training.train_model` (features from the
spec's `full` recipe, targets, walk-forward folds, per-fold fits, scoring, the final refit,
importance, the manifest) versus `lightgbm.train` on the feature matrix computed beforehand, with
the same folds, the same parameters and the same rows (each fold's training rows, then every row
for the refit; each fold's test rows predicted).

Data: a long hourly series made from the real bundled EUR/USD bars: each new bar copies a real
bar's shape (its return, its high / low / open relative to its close, its volume), the bars drawn
in blocks of 24 (seeded), chained onto continuing hourly timestamps. Real moves, any length.

The ratio is pipeline / bare (target 1.15x, issue 13); printed, never asserted. The clock starts
after the data is built and a small warm-up run (imports, first use); the bare side's feature
matrix is computed outside it, the pipeline's features inside.

Run: .venv/bin/python benchmarks/bench_pipeline.py [--bars 100000] [--folds 5] [--trees 100]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import numpy as np
import polars as pl


def long_series(n: int, seed: int = 7, block: int = 24, every: str = "1h") -> pl.DataFrame:
    """`n` bars (`every` apart, from 2000-01-01, so a long series still ends in the past) whose
    shapes are real EUR/USD bars drawn in blocks (see the docstring)."""
    from engine.data import load_ohlcv
    from engine.datasets import bundled_path

    real = load_ohlcv(bundled_path("EURUSD"), symbol="EURUSD")
    close = real["close"].to_numpy()
    ret = np.log(close[1:] / close[:-1])
    shape = {name: real[name].to_numpy()[1:] / close[1:] for name in ("open", "high", "low")}
    volume = real["volume"].to_numpy()[1:]
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, ret.size - block, size=n // block + 1)
    index = (starts[:, None] + np.arange(block)[None, :]).ravel()[:n]
    closes = 1.1 * np.exp(np.cumsum(ret[index]))
    step_us = {"1m": 60_000_000, "1h": 3_600_000_000}[every]
    start_us = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
    stamps = pl.Series("ts", start_us + np.arange(n, dtype=np.int64) * step_us).cast(pl.Datetime("us", "UTC"))
    frame = pl.DataFrame(
        {
            "ts": stamps,
            "symbol": "EURUSD",
            "open": closes * shape["open"][index],
            "high": closes * shape["high"][index],
            "low": closes * shape["low"][index],
            "close": closes,
            "volume": np.maximum(volume[index], 1.0),
        }
    )
    return frame.with_columns(
        pl.max_horizontal("open", "high", "close").alias("high"),
        pl.min_horizontal("open", "low", "close").alias("low"),
    )


def bare_lightgbm(X: np.ndarray, y: np.ndarray, folds, params: dict, trees: int) -> float:
    """Seconds for lightgbm.train on each fold's training rows (predicting its test rows), then on
    every row: the work the pipeline wraps."""
    import lightgbm

    started = time.perf_counter()
    for fold in folds:
        train = lightgbm.Dataset(X[fold.train_start : fold.train_end], y[fold.train_start : fold.train_end])
        booster = lightgbm.train(params, train, num_boost_round=trees)
        booster.predict(X[fold.test_start : fold.test_end])
    lightgbm.train(params, lightgbm.Dataset(X, y), num_boost_round=trees)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--trees", type=int, default=100)
    args = parser.parse_args()

    from engine.models.gbm import LightGBMModel
    from engine.pipeline import make_spec
    from engine.training import prepare_data, train_model

    frame = long_series(args.bars)
    spec = make_spec("lightgbm", recipe="full", params={"n_estimators": args.trees})
    # Both sides warm: imports, LightGBM's first use and polars' first plans happen here, off the
    # clock (the bare side would otherwise run on what the pipeline's run had loaded).
    train_model(frame.head(2_000), "lightgbm", timeframe="1h", n_folds=2, spec=spec)
    started = time.perf_counter()
    result = train_model(frame, "lightgbm", timeframe="1h", n_folds=args.folds, spec=spec)
    pipeline = time.perf_counter() - started

    data = prepare_data(frame, 1, spec=spec)  # the bare side's matrix, off the clock
    model = LightGBMModel(**{k: v for k, v in result.manifest.params.items() if k != "n_estimators"})
    kwargs = model._lightgbm_kwargs(with_validation=False)
    params = {
        "objective": "regression",
        "learning_rate": kwargs["learning_rate"],
        "num_leaves": kwargs["num_leaves"],
        "min_child_samples": kwargs["min_child_samples"],
        "subsample": kwargs["subsample"],
        "colsample_bytree": kwargs["colsample_bytree"],
        "subsample_freq": kwargs["subsample_freq"],
        "seed": kwargs["random_state"],
        "num_threads": kwargs["n_jobs"],
        "verbose": -1,
        "deterministic": True,
        "force_row_wise": True,
    }
    bare = bare_lightgbm(data.X, data.regression_target, result.manifest.folds, params, args.trees)
    print(
        f"bars {args.bars:,} ({data.n_rows:,} usable), full recipe {len(data.features)} columns, "
        f"{args.folds} folds + refit, {args.trees} trees"
    )
    print(f"  train_model (whole pipeline)   {pipeline:8.2f} s")
    print(f"  lightgbm.train (bare, same folds) {bare:5.2f} s")
    print(f"  ratio pipeline / bare          {pipeline / bare:8.2f}x   (target <= 1.15x)")


if __name__ == "__main__":
    main()

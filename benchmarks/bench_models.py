"""The tabular model zoo: engine overhead and a time table per kind.

(a) Engine overhead: LightGBM trained through our wrapper (`make_model("lightgbm").fit`, which
    checks the inputs and goes through lightgbm.LGBMRegressor) versus a bare
    `lightgbm.train(params, lightgbm.Dataset(X, y), num_boost_round)` with exactly the
    parameters the wrapper hands LightGBM (read back from the fitted booster), on the same
    matrix. Both sides must give identical predictions (checked). Target: ratio <= 1.15.
(b) Zoo table: fit and predict time of every available tabular kind, default parameters, on
    the same data; out-of-sample information coefficient (regressors) or accuracy (classifiers)
    is printed as a sanity check, not as a claim about any kind.

Data: the bundled EUR/USD hourly bars -> engine.features.add_features (8 causal features) ->
engine.targets.add_forward_return (fwd_ret_1, bps); classifiers learn engine.targets.add_direction
(sell / hold / buy beyond 1 bp). Rows with warm-up nulls or an unknown future are dropped; the
first 80% train, the last 20% test. `--rows N` replaces it with a synthetic matrix of N rows
(8 standard-normal features, one of them planted) for the overhead measurement at scale.

Timings are the best of --repeats runs, as wall-clock time (time.perf_counter) and as the CPU
time of this process (time.process_time): on a machine shared with other work the wall clock also
measures the neighbours, the CPU time much less so. In (a) the wrapper and the bare call alternate,
so drifting load hits both alike. Every kind with an n_jobs parameter runs with --threads threads
(default 1: OpenMP threads that spin-wait for a busy core turn milliseconds into seconds). Ratios
are printed, never asserted.

Run: .venv/bin/python benchmarks/bench_models.py [--repeats 7] [--zoo-repeats 3] [--threads 1]
     [--rows N] [--skip-zoo] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import polars as pl

from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.features import add_features, feature_columns
from engine.models import TABULAR_MODEL_CLASSES, make_model
from engine.targets import add_direction, add_forward_return, direction_name, target_name

OVERHEAD_TARGET = 1.15


def eurusd_matrix() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, forward return in bps, direction label) for the bundled EUR/USD hourly bars."""
    frame = load_ohlcv(bundled_path("EURUSD"), symbol="EURUSD")
    prepared = add_direction(add_forward_return(add_features(frame), 1), 1, threshold_bps=1.0)
    needed = [*feature_columns(), target_name(1), direction_name(1)]
    usable = prepared.drop_nulls(needed).filter(pl.all_horizontal(pl.col(needed).is_finite()))
    X = usable.select(feature_columns()).to_numpy().astype(float)
    return X, usable[target_name(1)].to_numpy().astype(float), usable[direction_name(1)].to_numpy()


def synthetic_matrix(n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_rows, 8))
    return X, 0.3 * X[:, 0] + rng.standard_normal(n_rows)


def seconds(work) -> tuple[float, float]:
    """(wall-clock, CPU) seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def best_of(repeats: int, work) -> tuple[float, float]:
    runs = [seconds(work) for _ in range(repeats)]
    return min(wall for wall, _ in runs), min(cpu for _, cpu in runs)


def overhead(X: np.ndarray, y: np.ndarray, repeats: int, threads: int) -> dict:
    import lightgbm

    wrapped = make_model("lightgbm", n_jobs=threads).fit(X, y)
    # The exact parameters LightGBM received from the wrapper (sklearn names already mapped).
    params = dict(wrapped.booster_.params)
    rounds = params.pop("num_iterations", None) or wrapped.n_estimators

    def bare():
        return lightgbm.train(params, lightgbm.Dataset(X, y), num_boost_round=rounds)

    def ours():
        return make_model("lightgbm", n_jobs=threads).fit(X, y)

    reference = bare()
    same = np.array_equal(reference.predict(X), wrapped.predict(X))
    same_text = reference.model_to_string() == wrapped.booster_.model_to_string()
    runs: dict[str, list[tuple[float, float]]] = {"wrapper": [], "bare": []}
    for _ in range(repeats):
        runs["wrapper"].append(seconds(ours))
        runs["bare"].append(seconds(bare))
    best = {side: (min(r[0] for r in timings), min(r[1] for r in timings)) for side, timings in runs.items()}
    return {
        "rows": int(X.shape[0]),
        "features": int(X.shape[1]),
        "rounds": int(rounds),
        "threads": threads,
        "wrapper_wall_s": best["wrapper"][0],
        "bare_wall_s": best["bare"][0],
        "wall_ratio": best["wrapper"][0] / best["bare"][0],
        "wrapper_cpu_s": best["wrapper"][1],
        "bare_cpu_s": best["bare"][1],
        "cpu_ratio": best["wrapper"][1] / best["bare"][1],
        "target": OVERHEAD_TARGET,
        "identical_predictions": bool(same),
        "identical_model_text": bool(same_text),
    }


def zoo_table(X: np.ndarray, y: np.ndarray, direction: np.ndarray, repeats: int, threads: int) -> list[dict]:
    from scipy.stats import spearmanr

    split = int(0.8 * X.shape[0])
    rows = []
    for kind, cls in TABULAR_MODEL_CLASSES.items():
        reason = cls.unavailable_reason()
        if reason is not None:
            rows.append({"kind": kind, "task": cls.task, "available": False, "reason": reason})
            continue
        target = direction if cls.task == "classification" else y
        params = {"n_jobs": threads} if "n_jobs" in cls.default_params() else {}
        fitted = {}

        def fit(kind=kind, target=target, params=params, fitted=fitted):
            fitted["model"] = make_model(kind, **params).fit(X[:split], target[:split])

        fit_s, fit_cpu_s = best_of(repeats, fit)
        model = fitted["model"]
        predict_s, predict_cpu_s = best_of(repeats, lambda model=model: model.predict(X[split:]))
        predictions = model.predict(X[split:])
        if cls.task == "classification":
            quality = {"accuracy": float(np.mean(predictions == target[split:]))}
        else:
            quality = {"ic": float(spearmanr(predictions, target[split:]).statistic)}
        timings = dict(fit_s=fit_s, fit_cpu_s=fit_cpu_s, predict_s=predict_s, predict_cpu_s=predict_cpu_s)
        rows.append({"kind": kind, "task": cls.task, "available": True, **timings, **quality})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="repeats of the overhead runs (best kept)")
    parser.add_argument("--zoo-repeats", type=int, default=3, help="repeats per kind in the zoo table")
    parser.add_argument("--threads", type=int, default=1, help="n_jobs of every kind that has one")
    parser.add_argument("--rows", type=int, help="also measure the overhead on a synthetic N-row matrix")
    parser.add_argument("--skip-zoo", action="store_true", help="only the overhead measurement")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()

    X, y, direction = eurusd_matrix()
    report = {"data": f"EURUSD hourly, {X.shape[0]} rows x {X.shape[1]} features",
              "overhead": [overhead(X, y, args.repeats, args.threads)]}  # fmt: skip
    if args.rows:
        report["overhead"].append(overhead(*synthetic_matrix(args.rows), args.repeats, args.threads))
    if not args.skip_zoo:
        report["zoo"] = zoo_table(X, y, direction, args.zoo_repeats, args.threads)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"data: {report['data']} (train 80% / test 20% for the zoo table)")
    print("\n(a) LightGBM: our wrapper vs bare lightgbm.train, same matrix and parameters, best of "
          f"{args.repeats}, {args.threads} thread(s)")  # fmt: skip
    for row in report["overhead"]:
        print(f"  {row['rows']} rows x {row['features']} features, {row['rounds']} rounds "
              f"(identical predictions: {row['identical_predictions']}, "
              f"identical model text: {row['identical_model_text']})")  # fmt: skip
        for clock in ("wall", "cpu"):
            ratio = row[f"{clock}_ratio"]
            verdict = "meets" if ratio <= OVERHEAD_TARGET else "MISSES"
            print(f"    {clock:<4}  wrapper {row[f'wrapper_{clock}_s'] * 1e3:8.1f} ms  "
                  f"bare {row[f'bare_{clock}_s'] * 1e3:8.1f} ms  ratio {ratio:.3f}x "
                  f"({verdict} <= {OVERHEAD_TARGET}x)")  # fmt: skip
    if "zoo" in report:
        print(f"\n(b) zoo table: default parameters (n_jobs={args.threads}), best of {args.zoo_repeats}")
        print(f"  {'kind':<26} {'task':<15} {'fit ms':>9} {'(cpu)':>9} {'predict ms':>11} {'(cpu)':>8}"
              "  out-of-sample")  # fmt: skip
        for row in report["zoo"]:
            if not row["available"]:
                print(f"  {row['kind']:<26} {row['task']:<15} unavailable: {row['reason']}")
                continue
            quality = f"ic {row['ic']:+.3f}" if "ic" in row else f"accuracy {row['accuracy']:.3f}"
            print(f"  {row['kind']:<26} {row['task']:<15} {row['fit_s'] * 1e3:>9.1f} "
                  f"{row['fit_cpu_s'] * 1e3:>9.1f} {row['predict_s'] * 1e3:>11.2f} "
                  f"{row['predict_cpu_s'] * 1e3:>8.2f}  {quality}")  # fmt: skip


if __name__ == "__main__":
    main()

"""Multivariate drift: the autoencoder reconstruction check versus the PCA reconstruction check
(NannyML's method, the linear baseline) on the same windows, engine.drift.multivariate.

Data (seeded): a reference window and two current windows of --rows x --cols float64 columns
driven by 8 shared factors plus noise. "unchanged" is drawn like the reference; "flipped" has
the correlation of columns 0 and 1 reversed, each column's own distribution unchanged (so PSI
and KS see nothing; their verdicts on those two columns are printed too).

Timed (wall clock, best of --repeats):
  fit    ReconstructionDriftCheck(method).fit(reference): standardise, count the components for
         65% of the variance, fit the model (the autoencoder on at most 20,000 sampled rows,
         torch, one thread), score the held-out quarter of the reference (the bootstrap's null).
  check  check(current) on the fitted check: every current row reconstructed (numpy), the mean
         error, the block bootstrap of its threshold — what a scheduled check does per window.
torch's import is timed once, apart (a process pays it once); scikit-learn's is done before too.

Run: .venv/bin/python benchmarks/bench_multivariate_drift.py [--rows 500000] [--cols 50] [--repeats 2]
Peer: the PCA check; printed ratios are autoencoder time / PCA time (issue 16: report it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.drift import ReconstructionDriftCheck, detect_drift  # noqa: E402

FACTORS = 8


def make_window(rows: int, cols: int, loadings: np.ndarray, seed: int, *, flip: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, FACTORS)) @ loadings + 0.5 * rng.normal(size=(rows, cols))
    if flip:  # column 1 mirrored about column 0's direction: same marginal, reversed correlation
        X[:, 1] = -X[:, 1]
    return {f"f{j:03d}": X[:, j] for j in range(cols)}


def best(function, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    loadings = rng.normal(size=(FACTORS, args.cols))
    loadings[:, 1] = loadings[:, 0]  # columns 0 and 1 share their factors: strongly correlated
    reference = make_window(args.rows, args.cols, loadings, 1)
    current = {"unchanged": make_window(args.rows, args.cols, loadings, 2),
               "flipped": make_window(args.rows, args.cols, loadings, 3, flip=True)}
    print(f"windows: reference and current {args.rows:,} x {args.cols}, {FACTORS} factors; "
          f"corr(f000, f001) reference {np.corrcoef(reference['f000'], reference['f001'])[0, 1]:+.2f}, "
          f"flipped {np.corrcoef(current['flipped']['f000'], current['flipped']['f001'])[0, 1]:+.2f}")
    pair = ["f000", "f001"]
    for method in ("psi", "ks"):
        flagged = detect_drift({k: reference[k] for k in pair}, {k: current["flipped"][k] for k in pair},
                               method).drifted_features
        print(f"  per-feature {method.upper()} on f000, f001 of 'flipped': drifted {flagged or 'none'}")

    start = time.perf_counter()
    import torch  # noqa: F401  (once per process; timed apart from the fits)

    print(f"torch import: {time.perf_counter() - start:.2f} s")
    import sklearn.decomposition  # noqa: F401  (likewise, for PCA)

    timings: dict[str, dict[str, float]] = {}
    for method in ("pca", "autoencoder"):
        fit_s, check = best(lambda method=method: ReconstructionDriftCheck(method).fit(reference),
                            args.repeats)
        timings[method] = {"fit": fit_s}
        for name, window in current.items():
            check_s, result = best(lambda window=window, check=check: check.check(window), args.repeats)
            timings[method][name] = check_s
            print(f"{method:>11} check '{name}': {check_s:7.3f} s  error {result.statistic:.4f} vs threshold "
                  f"{result.threshold:.4f} (reference {result.reference_error:.4f}, {result.components} "
                  f"units) -> {'DRIFT' if result.drifted else 'no drift'}")
        print(f"{method:>11} fit: {fit_s:7.3f} s")
    pca, ae = timings["pca"], timings["autoencoder"]
    print(f"ratio autoencoder / PCA: fit {ae['fit'] / pca['fit']:.2f}x, "
          f"check {ae['flipped'] / pca['flipped']:.2f}x, "
          f"fit + check {(ae['fit'] + ae['flipped']) / (pca['fit'] + pca['flipped']):.2f}x")


if __name__ == "__main__":
    main()

"""Drift checks: Huracan's `DriftCheck` versus evidently 0.7's `Report([DataDriftPreset(method=...)])`
for KS and PSI on the same windows, numbers compared; and Huracan alone on a wide, long window.

Data (seeded): reference and current windows of --rows x --cols float64 columns, a mix of
normal, heavy-tailed (Student t, 3 dof), shifted and scaled columns, 1% NaN in every fifth column.
evidently gets pandas DataFrames with every column declared numerical (DataDefinition), built
before the clock starts; Huracan gets the same numpy columns.

Huracan is timed two ways:
  cold      DriftCheck(method).fit(reference).check(current): cleans and sorts the reference too.
  scheduled check(current) on a DriftCheck already fitted on the reference window: what a
            scheduled check does (the reference window is fixed; its sort is reused).
Both use every core (threads over columns). Timings: best of --repeats (evidently: best of
--evidently-repeats, default 1), wall clock. The per-column numbers (KS p-value, PSI) are compared
with evidently's and the largest absolute difference is printed.

--alone-rows / --alone-cols: Huracan alone (KS and PSI, cold and scheduled) on a larger shape
(default 1,000,000 x 100), in a fresh subprocess that reports its peak resident memory
(ru_maxrss) after building the data and after the checks.

Run: .venv/bin/python benchmarks/bench_drift.py [--rows 500000] [--cols 50] [--repeats 3]
     [--evidently-repeats 1] [--alone-rows 1000000] [--alone-cols 100] [--skip-alone]
Targets (issue 5): PSI >= 30x, KS >= 10x faster than evidently's Report, numbers identical.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.drift import DriftCheck  # noqa: E402

METHODS = ("ks", "psi")


def make_windows(rows: int, cols: int, seed: int = 0) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    reference, current = {}, {}
    for j in range(cols):
        name = f"f{j:03d}"
        if j % 3 == 0:
            ref, cur = rng.normal(size=rows), rng.normal(0.02 * (j % 7), 1.0, size=rows)
        elif j % 3 == 1:
            ref, cur = rng.standard_t(3, size=rows), rng.standard_t(3, size=rows) * (1 + 0.01 * (j % 5))
        else:
            ref, cur = rng.normal(size=rows), rng.normal(size=rows)
        if j % 5 == 0:
            ref[rng.random(rows) < 0.01] = np.nan
            cur[rng.random(rows) < 0.01] = np.nan
        reference[name], current[name] = ref, cur
    return reference, current


def best_of(repeats: int, function):
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def compare(rows: int, cols: int, repeats: int, evidently_repeats: int) -> None:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from engine.drift.report import evidently_values

    reference, current = make_windows(rows, cols)
    definition = DataDefinition(numerical_columns=list(reference))
    ref_ds = Dataset.from_pandas(pd.DataFrame(reference), data_definition=definition)
    cur_ds = Dataset.from_pandas(pd.DataFrame(current), data_definition=definition)
    print(f"\n== {rows:,} x {cols} reference and current, Huracan vs evidently Report ==")
    print(
        f"{'method':<6} {'evidently s':>12} {'cold s':>8} {'sched s':>8} {'ratio cold':>11} "
        f"{'ratio sched':>12}  max |diff|"
    )
    for method in METHODS:
        ev_time, snapshot = best_of(
            evidently_repeats, lambda m=method: Report([DataDriftPreset(method=m)]).run(cur_ds, ref_ds)
        )
        ev_values, ev_count = evidently_values(snapshot)
        cold_time, report = best_of(repeats, lambda m=method: DriftCheck(m).fit(reference).check(current))
        fitted = DriftCheck(method).fit(reference)
        sched_time, report = best_of(repeats, lambda f=fitted: f.check(current))
        ours = {f.feature: (f.p_value if method == "ks" else f.statistic) for f in report.features}
        diff = max(abs(ours[name] - ev_values[name]) for name in ours)
        same_verdict = ev_count["count"] == len(report.drifted_features)
        drifted = len(report.drifted_features)
        print(
            f"{method:<6} {ev_time:>12.2f} {cold_time:>8.3f} {sched_time:>8.3f} "
            f"{ev_time / cold_time:>10.1f}x {ev_time / sched_time:>11.1f}x  "
            f"{diff:.2e} (drifted {drifted}/{cols}, "
            f"evidently {int(ev_count['count'])}/{cols}{'' if same_verdict else ' MISMATCH'})"
        )


def alone_child(rows: int, cols: int, repeats: int) -> None:
    def rss_mib() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    reference, current = make_windows(rows, cols, seed=1)
    data_rss = rss_mib()
    figures = {
        "rows": rows,
        "cols": cols,
        "data_mib": rows * cols * 8 * 2 / 2**20,
        "rss_after_data_mib": data_rss,
    }
    for method in METHODS:
        cold, _ = best_of(repeats, lambda m=method: DriftCheck(m).fit(reference).check(current))
        fitted = DriftCheck(method).fit(reference)
        sched, _ = best_of(repeats, lambda f=fitted: f.check(current))
        figures[method] = {"cold_s": cold, "scheduled_s": sched}
        del fitted
    figures["peak_rss_mib"] = rss_mib()
    print(json.dumps(figures))


def alone(rows: int, cols: int, repeats: int) -> None:
    done = subprocess.run(
        [sys.executable, __file__, "--child-alone", str(rows), str(cols), "--repeats", str(repeats)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\n== Huracan alone, {rows:,} x {cols} reference and current ==")
    print(
        f"data: {figures['data_mib']:.0f} MiB of float64; peak RSS after building it "
        f"{figures['rss_after_data_mib']:.0f} MiB, after the checks {figures['peak_rss_mib']:.0f} MiB"
    )
    for method in METHODS:
        print(
            f"{method:<4} cold {figures[method]['cold_s']:.2f} s, "
            f"scheduled {figures[method]['scheduled_s']:.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--evidently-repeats", type=int, default=1)
    parser.add_argument("--alone-rows", type=int, default=1_000_000)
    parser.add_argument("--alone-cols", type=int, default=100)
    parser.add_argument("--skip-alone", action="store_true")
    parser.add_argument("--skip-compare", action="store_true")
    parser.add_argument("--child-alone", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_alone:
        alone_child(*args.child_alone, args.repeats)
        return
    if not args.skip_compare:
        compare(args.rows, args.cols, args.repeats, args.evidently_repeats)
    if not args.skip_alone:
        alone(args.alone_rows, args.alone_cols, args.repeats)


if __name__ == "__main__":
    main()

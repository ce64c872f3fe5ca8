"""A/B statistics at scale: one champion against 20 challengers on 5,000 periods.

Times engine.abtest.compare (paired t, Wilcoxon, Mann-Whitney, Diebold-Mariano with Newey-West
HAC, circular block bootstrap of the Sharpe difference, Holm correction across challengers) and
its parts, best of --repeats runs, wall clock (time.perf_counter) and CPU time of this process
(time.process_time). Data: seeded normal daily returns, challengers = champion + noise with a
small drift each. For scale, the same rank and t statistics straight from scipy are timed too.

Run: .venv/bin/python benchmarks/bench_ab.py [--challengers 20] [--periods 5000] [--n-boot 1000]
     [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from engine import abtest


def timed(function, repeats: int) -> tuple[float, float]:
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--challengers", type=int, default=20)
    parser.add_argument("--periods", type=int, default=5000)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    champion = rng.normal(0.0003, 0.01, args.periods)
    challengers = {
        f"c{index}": champion + rng.normal(0.0001 * (index - args.challengers / 2), 0.005, args.periods)
        for index in range(args.challengers)
    }

    def everything():
        return abtest.compare(champion, challengers, n_boot=args.n_boot, seed=1)

    def scipy_only():
        for values in challengers.values():
            stats.ttest_rel(values, champion)
            stats.wilcoxon(values, champion)
            stats.mannwhitneyu(values, champion, alternative="two-sided")

    def bootstrap_only():
        for values in challengers.values():
            abtest.sharpe_bootstrap(champion, values, n_boot=args.n_boot, seed=1)

    def dm_only():
        for values in challengers.values():
            abtest.diebold_mariano(champion, values)

    everything()  # warm imports (statsmodels) before timing
    print(f"{args.challengers} challengers x {args.periods} periods, {args.n_boot} bootstrap resamples, "
          f"best of {args.repeats}")
    print(f"{'part':<34} {'wall s':>8} {'cpu s':>8}")
    for label, function in (
        ("compare (all tests + Holm)", everything),
        ("  scipy t / Wilcoxon / Mann-Whitney", scipy_only),
        ("  Diebold-Mariano (HAC)", dm_only),
        ("  Sharpe block bootstrap", bootstrap_only),
    ):
        wall, cpu = timed(function, args.repeats)
        print(f"{label:<34} {wall:8.3f} {cpu:8.3f}")
    verdicts = [row.verdict for row in everything() if row.test == "paired_t"]
    print("paired_t verdicts:", {v: verdicts.count(v) for v in sorted(set(verdicts))})


if __name__ == "__main__":
    main()

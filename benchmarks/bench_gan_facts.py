"""The path GAN against the four stylised facts (issue 16): train_gan on the bundled GOOG daily
bars with the default GanSettings for each --seeds seed, then 20 paths x 500 bars with the same
seed (as `huracan stress` seeds both), judged by engine.synthetic.stylised against the real
close-to-close log returns, as scheduler/services/stress.py judges them. One torch thread.

The generator is trained to the series' autocorrelations and quantiles beside its critic
(engine/synthetic/gan.py:_Matching), so the facts are partly its targets. `--held-out F` asks
whether they generalise: the GAN learns the first 1-F of the bars only and its paths are judged
against the returns of the last F, which it never saw.

Run: .venv/bin/python benchmarks/bench_gan_facts.py [--seeds 0 1 2] [--paths 20] [--bars 500]
     [--steps N] [--held-out 0.3]
Target: all four facts pass on every seed of 0-2, a fit within about 2 minutes on one thread.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data import load_ohlcv  # noqa: E402
from engine.datasets import bundled_path  # noqa: E402
from engine.synthetic.stylised import stylised_facts  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--paths", type=int, default=20)
    parser.add_argument("--bars", type=int, default=500)
    parser.add_argument("--steps", type=int, default=None, help="GanSettings.steps (default: its own)")
    parser.add_argument("--held-out", type=float, default=0.0,
                        help="judge against this last fraction of the bars, which the GAN does not learn")
    args = parser.parse_args()
    import torch

    from engine.synthetic.gan import GanSettings, train_gan

    torch.set_num_threads(1)
    history = load_ohlcv(bundled_path("GOOG"), symbol="GOOG")
    learned = history.head(round(history.height * (1 - args.held_out)))
    judged = history.tail(history.height - learned.height + 1) if args.held_out else history
    real = np.diff(np.log(judged["close"].to_numpy().astype(float)))
    if args.held_out:
        print(f"learned from the first {learned.height:,} bars, judged against the last "
              f"{judged.height - 1:,} returns")
    reference = stylised_facts(real, [real]).facts
    print(f"| seed | steps | KS | kurtosis (real {reference[1].real:.2f}) | mean ACF(|r|) "
          f"(real {reference[2].real:.3f}) | max ACF(r) | fit s | verdict |")
    print("|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        settings = GanSettings(seed=seed, **({} if args.steps is None else {"steps": args.steps}))
        started = time.perf_counter()
        generator = train_gan(learned, settings)
        fit = time.perf_counter() - started
        made = generator.paths(args.paths, args.bars, seed)
        facts = stylised_facts(real, list(made[:, :, 0]))
        _, tails, clustering, memory = facts.facts
        gap = float(np.mean(np.abs(np.subtract(facts.abs_acf_real, facts.abs_acf_synthetic))))
        print(f"| {seed} | {settings.steps} | {facts.ks_statistic:.3f} | {tails.synthetic:.2f} | "
              f"{clustering.synthetic:.3f} (gap {gap:.3f}) | {memory.synthetic:.3f} | {fit:.0f} | "
              f"{facts.verdict} |", flush=True)


if __name__ == "__main__":
    main()

"""The live loop per new bar: `scheduler.services.live.live_tick` on a slot whose champion reads
the `full` recipe and a funding rate, one bar arriving per tick, on a SQLite brain; p50 / p95 /
max per tick after the first (the first computes the whole history once; later ticks read a tail
window sized from the recipe's warm-up). The same for the `core` recipe without alternative data,
for comparison. Two latencies per tick: the new bar to its stored forecast (poll, features over
the tail window, forecast, the row committed), and the whole tick (then the outcome that matured,
the online learner, live metrics and the feedback policies). Target p95 <= 20 ms (issue 13);
printed, never asserted.

Data: the long hourly series of bench_pipeline.py (real EUR/USD bar shapes chained); funding rates
are synthetic (no real ones are bundled): one per bar, stamped an hour after the bar opens.

Run: .venv/bin/python -m benchmarks.bench_live_tick [--history 20000] [--ticks 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks.bench_pipeline import long_series


def run(recipe: str, alt: bool, history: int, ticks: int, folder: Path) -> list[float]:
    from brain import open_brain
    from scheduler.config import HuracanConfig, TrainingConfig
    from scheduler.services.feeds import ReplayFeed
    from scheduler.services.live import LiveState, live_tick
    from scheduler.services.training import train_slot

    series = long_series(history + ticks)
    path = folder / f"eurusd_{recipe}_{alt}.parquet"
    series.write_parquet(path)
    brain = open_brain(f"sqlite:///{folder / f'brain_{recipe}_{alt}.db'}")
    brain.store_bars("EURUSD", "1h", series.head(history))
    kinds = ()
    if alt:
        rates = np.random.default_rng(3).normal(1e-4, 5e-5, series.height)
        brain.store_alt_data(
            "funding_rate",
            pl.DataFrame({"ts": series["ts"] + timedelta(hours=1), "symbol": "EURUSD", "rate": rates}),
        )
        kinds = ({"kind": "funding_rate", "max_staleness": "3h"},)
    config = TrainingConfig(
        models=["lightgbm"], n_folds=2, recipe=recipe, alt=kinds, params={"lightgbm": {"n_estimators": 50}}
    )
    train_slot(brain, "EURUSD", "1h", config)
    feed = ReplayFeed(str(path), "EURUSD", "1h", speed=1, follow_only=True)
    state, settings, now = LiveState(), HuracanConfig(), datetime(2026, 1, 5, tzinfo=UTC)
    # When the tick's forecast is stored: the new bar's latency to its forecast. What follows
    # in the tick (the outcome that matured, live metrics, the feedback policies) is the rest.
    stored_at: list[float] = []
    record_predictions = brain.record_predictions

    def noting_record_predictions(rows):
        count = record_predictions(rows)
        stored_at.append(time.perf_counter())
        return count

    brain.record_predictions = noting_record_predictions
    ticks_s, forecast_s = [], []
    for _ in range(ticks):
        stored_at.clear()
        started = time.perf_counter()
        live_tick(brain, settings, [feed], state=state, now=now)
        ticks_s.append(time.perf_counter() - started)
        forecast_s.append(stored_at[0] - started)
    brain.close()
    return ticks_s[1:], forecast_s[1:]  # the first tick computes the whole history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", type=int, default=20_000, help="bars stored before the replay")
    parser.add_argument("--ticks", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for recipe, alt in (("full", True), ("core", False)):
            ticks, forecasts = run(recipe, alt, args.history, args.ticks, Path(folder))
            label = f"{recipe}{' + funding rate' if alt else ''}"
            for what, seconds in (("new bar -> stored forecast", forecasts), ("whole tick", ticks)):
                ms = np.asarray(seconds) * 1e3
                print(
                    f"{label:<20} {what:<27} history {args.history:,} bars, {ms.size} ticks: "
                    f"p50 {np.percentile(ms, 50):6.1f} ms  p95 {np.percentile(ms, 95):6.1f} ms  "
                    f"max {ms.max():6.1f} ms   (target p95 <= 20 ms)"
                )


if __name__ == "__main__":
    main()

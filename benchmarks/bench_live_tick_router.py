"""The live loop per new bar with a regime_router champion (issue 17): `live_tick` on a slot whose
champion switches between a linear and a LightGBM member (core recipe) by the trend label of each
new bar, one bar arriving per tick, on a SQLite brain; p50 / p95 / max per tick after the first.
Each router tick also labels the new bar causally and stores its label (the slot's labels,
scheduler.services.regimes, under the router's own labelling config) before routing it. The
peer: the same loop on the same series with the linear member as champion; the ratio is
printed. Two latencies per tick, as bench_live_tick.py: the new bar to its stored forecast, and
the whole tick. Target p95 <= 25 ms (issue 17); printed, never asserted.

Data: the long hourly series of bench_pipeline.py (real EUR/USD bar shapes chained).

Run: .venv/bin/python -m benchmarks.bench_live_tick_router [--history 20000] [--ticks 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks.bench_pipeline import long_series

SLOT = "EURUSD:1h:fwd_ret_1"


def run(router: bool, history: int, ticks: int, folder: Path) -> tuple[list[float], list[float]]:
    from brain import open_brain
    from scheduler.config import HuracanConfig, TrainingConfig
    from scheduler.services.feeds import ReplayFeed
    from scheduler.services.live import LiveState, live_tick
    from scheduler.services.router import train_router
    from scheduler.services.training import train_slot

    series = long_series(history + ticks)
    path = folder / f"eurusd_{router}.parquet"
    series.write_parquet(path)
    brain = open_brain(f"sqlite:///{folder / f'brain_{router}.db'}")
    brain.store_bars("EURUSD", "1h", series.head(history))
    config = TrainingConfig(models=["linear", "lightgbm"], n_folds=2, recipe="core",
                            params={"lightgbm": {"n_estimators": 50}})
    train_slot(brain, "EURUSD", "1h", config)
    brain.promote_version(SLOT, 1, actor="bench", reason="plain champion")
    if router:
        version = train_router(brain, SLOT, [1, 2], axis="trend", actor="bench")
        brain.promote_version(SLOT, version.number, actor="bench", reason="router champion", force=True)
    feed = ReplayFeed(str(path), "EURUSD", "1h", speed=1, follow_only=True)
    state, settings, now = LiveState(), HuracanConfig(), datetime(2026, 1, 5, tzinfo=UTC)
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
    p95: dict[tuple[bool, str], float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for router in (True, False):
            ticks, forecasts = run(router, args.history, args.ticks, Path(folder))
            label = "regime_router" if router else "linear (peer)"
            for what, seconds in (("new bar -> stored forecast", forecasts), ("whole tick", ticks)):
                ms = np.asarray(seconds) * 1e3
                p95[(router, what)] = float(np.percentile(ms, 95))
                print(
                    f"{label:<15} {what:<27} history {args.history:,} bars, {ms.size} ticks: "
                    f"p50 {np.percentile(ms, 50):6.1f} ms  p95 {p95[(router, what)]:6.1f} ms  "
                    f"max {ms.max():6.1f} ms   (target p95 <= 25 ms)"
                )
    for what in ("new bar -> stored forecast", "whole tick"):
        print(f"router / plain champion, p95 {what}: {p95[(True, what)] / p95[(False, what)]:.2f}x")


if __name__ == "__main__":
    main()

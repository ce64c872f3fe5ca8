"""Scheduler throughput: slots retrained per hour by the local worker pool against a Dask cluster.

    .venv/bin/python benchmarks/bench_scheduler.py [--quick] [--symbols 20] [--workers 2]
        [--models linear,lightgbm,random_forest] [--brain-url URL]

Data: `--symbols` daily series made by block-resampling the bundled GOOG bars (2,148 days; blocks
of 20 bars of open/high/low/close relative to the previous close, so every series is a valid,
GOOG-like OHLCV path of the same length with its own seed). Work: one `train` job per series,
each fitting the three model kinds with walk-forward evaluation and storing three versions,
their metrics and importances in the brain, exactly what a scheduled retrain does.
Compared: the same jobs, on a fresh copy of the same brain,
  local: `LocalExecutor(max_workers=W)`, one `python -m scheduler.daemon.worker` process per job;
  dask:  `DaskExecutor` on a `LocalCluster(n_workers=W, threads_per_worker=1, processes=True)`
         on loopback (cluster start-up timed separately, since a cluster outlives its jobs).
Both are driven by the leader's own loop (reap, then submit while there is capacity). Model
threads are pinned to one per job (n_jobs=1, OMP_NUM_THREADS=1) so W jobs use W cores.
Throughput = slots retrained / wall clock from the first submit to the last job's end.
Full size: 3 folds, LightGBM 100 rounds, forests of 50 trees. `--quick`: 4 series, 2 folds,
LightGBM 50 rounds, forests of 20 trees, for a run of a minute or two.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy / lightgbm load, here and in children

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from brain import open_brain  # noqa: E402
from engine.data import load_ohlcv  # noqa: E402
from engine.datasets import bundled_path  # noqa: E402
from scheduler.config import TrainingConfig  # noqa: E402
from scheduler.daemon.executor import LocalExecutor  # noqa: E402
from scheduler.services.job_params import train_job_params  # noqa: E402


def resampled_series(base: pl.DataFrame, seed: int, block: int = 20) -> pl.DataFrame:
    """A GOOG-like path: blocks of bars (relative to the previous close) in a random order."""
    close = base["close"].to_numpy()
    previous = np.concatenate([[close[0]], close[:-1]])
    relative = np.column_stack([base[c].to_numpy() / previous for c in ("open", "high", "low", "close")])
    volume = base["volume"].to_numpy()
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(base) - block, size=len(base) // block + 1)
    order = np.concatenate([np.arange(s, s + block) for s in starts])[: len(base)]
    relative, volume = relative[order], volume[order]
    closes = 100.0 * np.cumprod(relative[:, 3])
    prior = np.concatenate([[100.0], closes[:-1]])
    return pl.DataFrame({
        "ts": base["ts"], "open": prior * relative[:, 0], "high": prior * relative[:, 1],
        "low": prior * relative[:, 2], "close": closes, "volume": volume,
    })


def build_template(path: Path, symbols: int) -> list[str]:
    base = load_ohlcv(bundled_path("GOOG"), symbol="GOOG")
    names = [f"SYN{index:02d}" for index in range(symbols)]
    with open_brain(f"sqlite:///{path}") as brain:
        for index, name in enumerate(names):
            brain.store_bars(name, "1d", resampled_series(base, seed=index))
    return names


def training_config(models: list[str], quick: bool) -> TrainingConfig:
    params = {"lightgbm": {"n_estimators": 50 if quick else 100, "n_jobs": 1},
              "random_forest": {"n_estimators": 20 if quick else 50, "n_jobs": 1}}
    return TrainingConfig.model_validate({
        "models": models, "n_folds": 2 if quick else 3,
        "params": {kind: value for kind, value in params.items() if kind in models},
    })


def run_jobs(executor, brain_url: str, names: list[str], training: TrainingConfig) -> tuple[float, dict]:
    """Queue one train job per series and drive the executor as the leader does; (seconds, states)."""
    with open_brain(brain_url) as brain:
        jobs = [brain.create_job("train", slot_key=f"{name}:1d:fwd_ret_1",
                                 params=train_job_params(name, "1d", training)).id for name in names]
        waiting, ended = list(jobs), {}
        started = time.perf_counter()
        while len(ended) < len(jobs):
            ended.update(executor.reap())
            while waiting and executor.has_capacity():
                executor.submit(waiting.pop(0))
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        states = {}
        for job_id in jobs:
            job = brain.get_job(job_id)
            states[job.state] = states.get(job.state, 0) + 1
            if job.state != "succeeded":
                print(f"    job {job_id} {job.state}: {job.error or job.message}")
        versions = sum(len(brain.list_versions(f"{name}:1d:fwd_ret_1")) for name in names)
    return seconds, {"states": states, "versions": versions}


def fresh_copy(template: Path, name: str) -> str:
    path = template.parent / f"{name}.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


def report(label: str, seconds: float, outcome: dict, slots: int, kinds: int) -> float:
    per_hour = slots / seconds * 3600
    print(f"  {label:<34} {seconds:8.1f} s  {per_hour:8.0f} slots/h  ({per_hour * kinds:.0f} models/h)"
          f"  {outcome['states']}, {outcome['versions']} versions")
    return per_hour


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 series, 2 folds, small forests")
    parser.add_argument("--symbols", type=int, default=None, help="series (default 20; 4 with --quick)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--models", default="linear,lightgbm,random_forest")
    parser.add_argument("--dask-first", action="store_true",
                        help="run the Dask side first (to see how much the order, i.e. the load, moves it)")
    args = parser.parse_args()
    symbols = args.symbols or (4 if args.quick else 20)
    models = [kind.strip() for kind in args.models.split(",")]
    training = training_config(models, args.quick)

    folder = Path(tempfile.mkdtemp(prefix="bench-sched-"))
    try:
        template = folder / "template.db"
        names = build_template(template, symbols)
        print(f"load average at start: {os.getloadavg()[0]:.2f}; {symbols} series x {len(models)} kinds "
              f"({', '.join(models)}), {training.n_folds} folds, {args.workers} workers")

        def run_local() -> float:
            local = LocalExecutor(fresh_copy(template, "local"), max_workers=args.workers,
                                  log_path=folder / "workers.log")
            seconds, outcome = run_jobs(local, local.brain_url, names, training)
            return report(f"local pool (max_workers={args.workers})", seconds, outcome,
                          symbols, len(models))

        def run_dask() -> float:
            from distributed import Client, LocalCluster

            from scheduler.daemon.dask_executor import DaskExecutor

            started = time.perf_counter()
            with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                              host="127.0.0.1", dashboard_address=None) as cluster:
                client = Client(cluster, set_as_default=False)
                client.wait_for_workers(args.workers)
                print(f"  Dask LocalCluster start-up: {time.perf_counter() - started:.1f} s (not counted)")
                dask_url = fresh_copy(template, "dask")
                executor = DaskExecutor(dask_url, client)
                seconds, outcome = run_jobs(executor, dask_url, names, training)
                executor.stop_all()
            return report(f"Dask LocalCluster ({args.workers} workers)", seconds, outcome,
                          symbols, len(models))

        if args.dask_first:
            dask_rate = run_dask()
            local_rate = run_local()
        else:
            local_rate = run_local()
            dask_rate = run_dask()
        print(f"  ratio Dask / local: {dask_rate / local_rate:.2f}x")
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

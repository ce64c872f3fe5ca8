"""What each kind of job does, run inside a worker process."""

from __future__ import annotations

from collections.abc import Callable

from brain import Brain
from brain.records import JobRecord
from engine.data import load_ohlcv
from engine.datasets import BUNDLED, bundled_path
from scheduler.config import TrainingConfig
from scheduler.training import train_slot

Progress = Callable[[float, str], None]


def import_bundled_data(brain: Brain) -> list[tuple[str, str]]:
    """Copy the bundled real market data into the brain; returns (symbol, timeframe) pairs."""
    series = []
    for symbol, (_, timeframe) in BUNDLED.items():
        frame = load_ohlcv(bundled_path(symbol), symbol=symbol)
        brain.store_bars(symbol, timeframe, frame)
        series.append((symbol, timeframe))
    return series


def run_train_job(brain: Brain, job: JobRecord, progress: Progress) -> dict:
    params = job.params
    training = TrainingConfig.model_validate(params.get("training", {}))
    versions = train_slot(brain, params["symbol"], params["timeframe"], training, progress=progress)
    return {"versions": [{"slot": v.slot_key, "number": v.number, "model_kind": v.model_kind}
                         for v in versions]}


def run_demo_job(brain: Brain, job: JobRecord, progress: Progress) -> dict:
    training = TrainingConfig.model_validate(job.params.get("training", {}))
    progress(0.0, "importing the bundled market data")
    series = import_bundled_data(brain)
    stored = []
    for position, (symbol, timeframe) in enumerate(series):

        def report(fraction: float, message: str, position=position) -> None:
            progress((position + fraction) / len(series), message)

        versions = train_slot(brain, symbol, timeframe, training, progress=report)
        stored += [{"slot": v.slot_key, "number": v.number, "model_kind": v.model_kind}
                   for v in versions]
    return {"versions": stored}


RUNNERS: dict[str, Callable[[Brain, JobRecord, Progress], dict]] = {
    "train": run_train_job,
    "demo": run_demo_job,
}

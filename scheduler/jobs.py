"""Job kinds and their params. A job's params are plain JSON stored with the job in the brain;
building them is cheap, so the console can queue work without importing the engine."""

from __future__ import annotations

from scheduler.config import TrainingConfig

JOB_KINDS = ("train", "demo")


def train_job_params(symbol: str, timeframe: str, training: TrainingConfig) -> dict:
    return {"symbol": symbol, "timeframe": timeframe, "training": training.model_dump()}


def demo_job_params(training: TrainingConfig) -> dict:
    return {"training": training.model_dump()}

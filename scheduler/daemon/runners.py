"""What each kind of job does, run inside a worker process."""

from __future__ import annotations

from collections.abc import Callable

from brain import Brain
from brain.records import JobRecord
from engine.data import load_ohlcv
from engine.datasets import BUNDLED, bundled_path
from engine.regimes import RegimeConfig
from scheduler.config import TrainingConfig
from scheduler.services.training import BrainCheckpoints, train_run_key, train_slot

# progress(fraction, message), and progress(fraction, message, values) for an epoch's losses.
Progress = Callable[..., None]


# The demo keeps back the newest bars of each series (at most a fifth of it) for the live
# loop's ReplayFeed (scheduler.services.live.demo_live_config) to play in as if they were arriving.
DEMO_HOLD_BACK = 200


def import_bundled_data(brain: Brain, *, hold_back: int = 0) -> list[tuple[str, str]]:
    """Copy the bundled real market data into the brain, less the newest `hold_back` bars of
    each series (capped at a fifth of it); returns (symbol, timeframe) pairs."""
    series = []
    for symbol, (_, timeframe) in BUNDLED.items():
        frame = load_ohlcv(bundled_path(symbol), symbol=symbol)
        held = min(hold_back, frame.height // 5)
        # Holding back, a series already stored is left alone: a replay may have played it on.
        if not held or brain.last_bar_ts(symbol, timeframe) is None:
            brain.store_bars(symbol, timeframe, frame.head(frame.height - held))
        series.append((symbol, timeframe))
    return series


def on_device(brain: Brain, job: JobRecord, training: TrainingConfig) -> TrainingConfig:
    """The job's training settings with its device given to every neural kind, and the job's
    device column set to what they will train on. The device is resolved before anything is
    trained: `cuda` on a machine without CUDA fails the job at once with the reason, and stores
    no version of any kind. Jobs without neural kinds run on the CPU."""
    from engine.models import model_tags

    requested = job.params.get("device")
    # The kinds that train in epochs are the torch ones, the only ones a device applies to.
    neural = [kind for kind in training.models if model_tags(kind).reports_epochs]
    if not neural:
        brain.record_job_device(job.id, "cpu")
        return training
    from engine.models.neural.device import resolve_device  # torch: worker processes only

    params = {kind: dict(values) for kind, values in training.params.items()}
    used = set()
    for kind in neural:
        wanted = requested or params.get(kind, {}).get("device", "auto")
        used.add(str(resolve_device(wanted)))
        if requested is not None:
            params[kind] = {**params.get(kind, {}), "device": requested}
    spread = training.distributed
    if spread.processes > 1:
        from engine.models.neural.distributed import check_backend_here

        try:  # nccl without CUDA (or with fewer GPUs than ranks) fails the job now, in one line
            check_backend_here(spread.processes, spread.backend)
        except ValueError as error:
            raise ValueError(f"training.distributed: {error}") from None
        used = {"cuda" if spread.backend == "nccl" else "cpu"}  # gloo ranks train on the CPU
    brain.record_job_device(job.id, ",".join(sorted(used)))
    return training.model_copy(update={"params": params})


class ResumeNotes:
    """Progress passed on, and what the neural fits resumed from remembered: every later message
    of the job says it resumed, and so does its result."""

    def __init__(self, progress: Progress):
        self._progress = progress
        self.resumed: list[str] = []

    def __call__(self, fraction: float, message: str, *values) -> None:
        if values and values[0] and "resumed_from_epoch" in values[0]:
            self.resumed.append(message)
        elif self.resumed:
            message = f"{message} · resumed ({len(self.resumed)} fit(s), first: {self.resumed[0]})"
        self._progress(fraction, message, *values)


def run_train_job(brain: Brain, job: JobRecord, progress: Progress) -> dict:
    """Train the job's slot; its neural fits checkpoint each epoch, and a requeue of a killed
    attempt (same kind, slot and params: the same run) resumes from where it was."""
    params = job.params
    training = on_device(brain, job, TrainingConfig.model_validate(params.get("training", {})))
    checkpoints = BrainCheckpoints(brain, train_run_key(job.kind, job.slot_key, params), job.id)
    notes = ResumeNotes(progress)
    versions = train_slot(brain, params["symbol"], params["timeframe"], training, progress=notes,
                          checkpoints=checkpoints)
    result: dict = {"versions": [{"slot": v.slot_key, "number": v.number, "model_kind": v.model_kind}
                                 for v in versions]}
    if notes.resumed:
        result["resumed"] = notes.resumed
    return result


def run_demo_job(brain: Brain, job: JobRecord, progress: Progress) -> dict:
    training = on_device(brain, job, TrainingConfig.model_validate(job.params.get("training", {})))
    progress(0.0, "importing the bundled market data")
    series = import_bundled_data(brain, hold_back=DEMO_HOLD_BACK)
    stored = []
    for position, (symbol, timeframe) in enumerate(series):

        def report(fraction: float, message: str, *values, position=position) -> None:
            progress((position + fraction) / len(series), message, *values)

        versions = train_slot(brain, symbol, timeframe, training, progress=report)
        stored += [{"slot": v.slot_key, "number": v.number, "model_kind": v.model_kind}
                   for v in versions]
    return {"versions": stored}


def run_compare_job(brain: Brain, job: JobRecord, progress: Progress) -> dict:
    from scheduler.services.comparison import compare_versions

    params = job.params
    progress(0.0, f"replaying v{params['champion']} and {len(params['challengers'])} challenger(s)")
    document = compare_versions(
        brain, job.slot_key, int(params["champion"]), [int(n) for n in params["challengers"]],
        alpha=float(params.get("alpha", 0.05)), correction=params.get("correction", "holm"),
        n_boot=int(params.get("n_boot", 1000)), seed=int(params.get("seed", 0)),
    )
    return {key: document[key] for key in ("slot", "champion", "challengers", "periods", "overall",
                                           "best_model")}


def run_ensemble_job(brain: Brain, job: JobRecord, progress: Progress) -> dict:
    from scheduler.services.ensembles import train_ensemble

    params = job.params
    members = [int(n) for n in params["members"]]
    progress(0.0, f"{params['method']} ensemble of {', '.join(f'v{n}' for n in members)}: "
                  "replaying the members' folds")
    regimes = params.get("regimes")  # absent from a job queued before it travelled with the job
    regime_config = None if regimes is None else RegimeConfig.model_validate(regimes)
    version = train_ensemble(brain, str(job.slot_key), members, params["method"], regime_config=regime_config)
    return {"versions": [{"slot": version.slot_key, "number": version.number,
                          "model_kind": version.model_kind}]}


RUNNERS: dict[str, Callable[[Brain, JobRecord, Progress], dict]] = {
    "train": run_train_job,
    "demo": run_demo_job,
    "compare": run_compare_job,
    "ensemble": run_ensemble_job,
}

"""Job kinds and their params. A job's params are plain JSON stored with the job in the brain;
building them is cheap, so the console can queue work without importing the engine."""

from __future__ import annotations

from pydantic import ValidationError

from scheduler.config import TrainingConfig

JOB_KINDS = ("train", "demo", "compare", "ensemble")
# What an operator may ask a retrain to run on: auto picks CUDA, then Apple MPS, then the CPU.
DEVICE_CHOICES = ("auto", "cpu", "cuda")
# How many processes an operator may spread one neural fit over from the console (torch DDP).
PROCESS_CHOICES = (1, 2, 4, 8)


def train_job_params(
    symbol: str,
    timeframe: str,
    training: TrainingConfig,
    *,
    kinds: list[str] | None = None,
    cadence: str | None = None,
    device: str | None = None,
    recipe: str | None = None,
    learns: str | None = None,
    preprocessing: list[dict] | None = None,
    processes: int | None = None,
) -> dict:
    """A train job of one series. `kinds`, `cadence`, `recipe` (core, full or a recipe file),
    `preprocessing` (spec steps, in order) and `learns` (the spec's target kind: fwd_ret,
    net_edge, direction) replace the configured ones
    (checked as the config checks them, and each kind against the target); `device` (auto, cpu,
    cuda, cuda:N, mps) is where the neural kinds train, None meaning as configured; `processes`
    how many ranks each neural kind's fit spans (training.distributed.processes). ValueError
    naming the bad value otherwise."""
    update: dict = {}
    if kinds is not None:
        update["models"] = list(kinds)
    if cadence is not None:
        update["cadence"] = cadence
    if recipe is not None:
        update["recipe"] = recipe
    if preprocessing is not None:
        update["preprocessing"] = list(preprocessing)
    if processes is not None:
        update["distributed"] = {**training.distributed.model_dump(), "processes": processes}
    if learns is not None:
        # None in the config means each kind's own target; fwd_ret is that for every regressor.
        update["target"] = None if learns == "fwd_ret" else learns
    if update:
        # Validated, not model_copy'd: an unknown kind or cadence is refused here, not in a worker.
        try:
            training = TrainingConfig.model_validate({**training.model_dump(), **update})
        except ValidationError as error:
            first = error.errors()[0]
            key = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"{key}: {first['msg'].removeprefix('Value error, ')}") from None
    _check_targets(training)
    params = {"symbol": symbol, "timeframe": timeframe, "training": training.model_dump()}
    if device is not None:
        from engine.models.neural.device import check_device_name  # no torch import

        params["device"] = check_device_name(device)
    return params


def _check_targets(training: TrainingConfig) -> None:
    """Each kind can learn the target: a classifier learns a direction, a regressor a number."""
    from engine.models import model_class  # the registry only: no learning library

    for kind in training.models:
        task = str(getattr(model_class(kind), "task", "regression"))
        if training.target is not None and (task == "classification") != (training.target == "direction"):
            wanted = "direction" if task == "classification" else "fwd_ret or net_edge"
            raise ValueError(
                f"target: {kind} is a {task} kind; it cannot learn {training.target} (use {wanted})"
            )


def demo_job_params(training: TrainingConfig) -> dict:
    return {"training": training.model_dump()}


def compare_job_params(champion: int, challengers: list[int], *, alpha: float = 0.05,
                       correction: str = "holm", n_boot: int = 1000, seed: int = 0) -> dict:
    """A champion-versus-challengers comparison (scheduler.services.comparison); the slot is the job's."""
    return {"champion": champion, "challengers": list(challengers), "alpha": alpha,
            "correction": correction, "n_boot": n_boot, "seed": seed}


def ensemble_job_params(members: list[int], method: str, regimes: dict | None = None) -> dict:
    """An ensemble of member versions of the job's slot (scheduler.services.ensembles);
    `regimes`: the labelling config (a RegimeConfig's JSON) its metrics by regime, and a
    router's routing, are labelled by."""
    params: dict = {"members": list(members), "method": method}
    if regimes is not None:
        params["regimes"] = regimes
    return params


def what_it_runs(kind: str, params: dict | None) -> str:
    """What a job trains or compares, in a few words, from its params alone (no engine import):
    'lightgbm, lstm' (train), 'stacking' (ensemble), 'v3 vs v1' (compare), '' otherwise."""
    params = params or {}
    if kind in ("train", "demo"):
        return ", ".join(str(model) for model in (params.get("training") or {}).get("models", []))
    if kind == "ensemble":
        return str(params.get("method", ""))
    if kind == "compare":
        challengers = ", ".join(f"v{number}" for number in params.get("challengers", []))
        return f"{challengers} vs v{params.get('champion', '?')}" if challengers else ""
    return ""

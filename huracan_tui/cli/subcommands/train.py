"""`huracan train`: fit every configured model kind on an OHLCV file and store the versions.

  huracan train --data goog.csv --symbol GOOG --models lightgbm --recipe full --target net_edge \
      --preprocess scale,pca=0.95 --alt funding_rate:3d

Each version's spec (engine.spec) comes from the config's `training:` with these flags over it:
--recipe core|full|FILE, --target fwd_ret|net_edge|direction (with --threshold-bps for
direction), --alt KIND[:MAX_STALENESS],... (alternative data already in the brain) and
--preprocess STEPS, a comma list of steps in order:

  impute[=mean|median|most_frequent|constant]   outliers[=clip|winsorize|remove]
  scale[=standard|minmax|robust]                pca[=VARIANCE, default 0.95]
  select=K (top K by importance) | select=SHARE (columns with at least SHARE of the importance)
  | select=mi:K or mi:SHARE (by mutual information)
  autoencoder[=LATENT, default 4] (learned factors ae_0.. from an MLP autoencoder)

The slot's id carries the target and horizon (GOOG:1d:net_edge_5). A bad flag is one line naming
it, before anything is fitted or written.
"""

from __future__ import annotations

from engine.cadence import Cadence
from huracan_tui.cli.output import CommandError, clean, emit, fmt
from huracan_tui.cli.subcommands.data import add_text_format_options, symbol_option
from huracan_tui.settings import resolve_brain_url


def register(command) -> None:
    from pathlib import Path

    from engine.spec import ENSEMBLE_METHODS

    train = command("train", run, "train models for a slot on an OHLCV file and store them")
    train.add_argument("--data", required=True, type=Path, metavar="FILE", help="CSV or Parquet")
    train.add_argument("--symbol", required=True, help="symbol, e.g. EURUSD")
    add_text_format_options(train)
    train.add_argument("--timeframe", help="bar length, e.g. 1h, 1d (default: inferred)")
    train.add_argument("--models", help="comma-separated model kinds (default: the config's)")
    train.add_argument("--horizon", type=int, help="forward-return horizon in bars")
    train.add_argument("--cost-bps", type=float, help="trading cost per unit turnover, in bps")
    train.add_argument("--folds", type=int, help="walk-forward folds")
    train.add_argument("--cadence", choices=tuple(Cadence),
                       help="full (default), quick (2 folds) or incremental (warm start from the "
                            "slot's latest version of each kind, on the bars after its data_end)")
    train.add_argument("--threshold-bps", type=float,
                       help="classifier kinds: a move within this many bps is a hold (default 0)")
    train.add_argument("--recipe", metavar="RECIPE",
                       help="feature recipe: core (default), full (every indicator) or a YAML file")
    train.add_argument("--target", choices=("fwd_ret", "net_edge", "direction"),
                       help="what the models learn (default: fwd_ret for regressors, direction for "
                            "classifiers); net_edge is the forward move after a round trip of costs")
    train.add_argument("--alt", metavar="KIND[:AGE],...",
                       help="alternative data joined as of each bar, e.g. funding_rate:8h,sentiment "
                            "(default max age 1d)")
    train.add_argument("--preprocess", metavar="STEPS",
                       help="preprocessing steps in order, e.g. impute=median,scale,pca=0.95,select=10")
    train.add_argument("--ensemble", metavar="METHOD", choices=ENSEMBLE_METHODS,
                       help="also store an ensemble of the new versions: average, performance_weighted, "
                            "optimised or stacking (weights learned out of fold only)")
    train.add_argument("--processes", type=int, metavar="N",
                       help="neural kinds: fit each model across N local processes (torch DDP; "
                            "training.distributed.processes, default 1)")
    train.add_argument("--backend", choices=("gloo", "nccl"),
                       help="with --processes: gloo (CPU, default) or nccl (one GPU per process)")


def run(args, config) -> None:
    from brain import open_brain
    from brain.identity import current_actor
    from brain.registry import slot_key
    from engine.data import load_ohlcv
    from engine.models.neural.distributed import DistributedTrainingError
    from engine.spec import SpecError
    from engine.timeframes import infer_timeframe
    from huracan_tui.cli.subcommands.roles import require_operator_here
    from scheduler.config import TrainingConfig
    from scheduler.services.roles import require_writable
    from scheduler.services.training import (
        alt_frames,
        blend_fresh_versions,
        fit_models,
        previous_versions,
        sizing_signals,
        slot_for,
        spec_for,
        store_result,
    )

    models = [name.strip() for name in args.models.split(",") if name.strip()] if args.models else None
    updates = {key: value for key, value in {
        "models": models, "horizon": args.horizon, "cost_bps": args.cost_bps, "n_folds": args.folds,
        "cadence": args.cadence, "threshold_bps": args.threshold_bps, "recipe": args.recipe,
        "target": args.target,
        "alt": None if args.alt is None else parse_alt(args.alt),
        "preprocessing": None if args.preprocess is None else parse_steps(args.preprocess),
        "ensemble": args.ensemble,
        "distributed": _distributed(args, config),
        # What the versions' metrics by regime are labelled by: the map's own `regimes:`.
        "regimes": config.regimes.model_dump(),
    }.items() if value is not None}
    try:  # validated like the config file, so an unknown kind is named the same way
        training = TrainingConfig.model_validate({**config.training.model_dump(), **updates})
        specs = {kind: spec_for(training, kind) for kind in training.models}
    except SpecError as error:
        raise CommandError(_spec_problem(str(error))) from None
    except ValueError as error:
        raise CommandError(_first_problem(error)) from None
    targets = {spec.target.slot_target for spec in specs.values()}
    if len(targets) > 1:
        raise CommandError(f"--models: these kinds learn different targets ({', '.join(sorted(targets))}); "
                           "train regressors and classifiers apart, or give --target")
    target = next(iter(specs.values())).target

    # Everything that can reject the input runs before the brain is written: bad input writes nothing.
    symbol_option(args.symbol)
    frame = load_ohlcv(args.data, symbol=args.symbol, separator=args.separator, decimal=args.decimal)
    timeframe = args.timeframe or infer_timeframe(frame)
    # Who may train, and whether the brain takes writes at all, is known before anything is fitted.
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        require_operator_here(brain, config, "train")
        require_writable(brain, "train")
        try:  # the alternative data the specs join, from the brain; a kind it lacks is refused now
            alt = alt_frames(brain, args.symbol, next(iter(specs.values())))
        except SpecError as error:
            raise CommandError(_spec_problem(str(error))) from None
        try:  # a sizing kind's member forecast (ppo_sizing: the slot's champion), refused now
            signals = sizing_signals(brain, args.symbol, timeframe, training, specs)
        except ValueError as error:
            raise CommandError(str(error)) from None
    previous = {}
    if training.cadence == "incremental":
        with open_brain(resolve_brain_url(args.brain, config)) as brain:
            key = slot_key(args.symbol, timeframe, target.slot_target)
            if brain.get_slot(key) is not None:
                previous = previous_versions(brain, key, list(training.models))
    if training.distributed.processes > 1:
        from engine.models.neural.distributed import check_backend_here

        try:  # nccl without CUDA is refused before any fit starts
            check_backend_here(training.distributed.processes, training.distributed.backend)
        except ValueError as error:
            raise CommandError(f"--backend: {error}") from None
    try:
        results = fit_models(frame, timeframe, training, previous=previous, alt=alt, signals=signals)
    except DistributedTrainingError as error:  # a rank died: nothing is stored
        raise CommandError(str(error)) from None

    actor, _origin = current_actor()
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        brain.store_bars(args.symbol, timeframe, frame)
        slot = slot_for(brain, args.symbol, timeframe, target)
        versions = [store_result(brain, slot, result, actor=actor, regime_config=training.regimes)
                    for result in results]
        blends = []
        if training.ensemble is not None:
            from engine.ensembles.version import EnsembleError

            try:
                blends = blend_fresh_versions(brain, versions, training.ensemble, actor=actor,
                                              regime_config=training.regimes)
            except EnsembleError as error:
                raise CommandError(f"--ensemble: {error}") from None
        document = {
            "slot": slot.key,
            "symbol": args.symbol,
            "timeframe": timeframe,
            "bars": frame.height,
            "recipe": training.recipe,
            "target": target.describe(),
            "versions": [
                {
                    "number": version.number,
                    "model_kind": version.model_kind,
                    "cadence": result.manifest.cadence,
                    "artifact_sha256": version.artifact_sha256,
                    "data_start": version.data_start,
                    "data_end": version.data_end,
                    "folds": len(result.manifest.folds),
                    "metrics": clean(result.manifest.metrics),
                    "spec_sha256": result.manifest.spec_sha256,
                    "inputs": len(result.manifest.features),
                    "preprocessing": specs[version.model_kind].describe_preprocessing(),
                }
                for version, result in zip(versions, results, strict=True)
            ] + [
                {
                    "number": blend.number,
                    "model_kind": blend.model_kind,
                    "method": training.ensemble,
                    "members": [member["number"] for member in blend.manifest["params"]["members"]],
                    "weights": blend.manifest["params"]["weights"],
                    "artifact_sha256": blend.artifact_sha256,
                    "data_start": blend.data_start,
                    "data_end": blend.data_end,
                    "folds": len(blend.manifest["folds"]),
                    "metrics": clean(dict(blend.manifest["metrics"])),
                    "spec_sha256": blend.manifest.get("spec_sha256"),
                }
                for blend in blends
            ],
        }

    def render(doc) -> str:
        lines = [f"slot {doc['slot']}: {doc['bars']} bars"]
        first = doc["versions"][0] if doc["versions"] else None
        if first is not None:
            lines.append(f"  spec: {doc['recipe']} recipe, {first['inputs']} inputs, preprocessing "
                         f"{first['preprocessing']}, target {doc['target']}")
        for v in doc["versions"]:
            m = v["metrics"]
            if v["model_kind"] == "ensemble":
                weights = ", ".join(f"v{n} {w:.3f}" for n, w in zip(v["members"], v["weights"], strict=True))
                lines.append(f"  v{v['number']} ensemble  {v['method']}: {weights}")
                lines.append(f"  {'':12}sharpe={fmt(m.get('sharpe'))} hit={fmt(m.get('hit_rate'))} "
                             f"ic={fmt(m.get('ic'))} rmse={fmt(m.get('rmse'))} "
                             f"sha256={v['artifact_sha256'][:12]}")
                continue
            lines.append(f"  v{v['number']} {v['model_kind']:<9} sharpe={fmt(m.get('sharpe'))} "
                         f"hit={fmt(m.get('hit_rate'))} ic={fmt(m.get('ic'))} "
                         f"rmse={fmt(m.get('rmse'))} sha256={v['artifact_sha256'][:12]}")
        return "\n".join(lines)

    emit(document, args.json, render)


_STEP_WORDS = {"impute": "strategy", "outliers": "method", "scale": "method", "pca": "variance",
               "autoencoder": "latent"}
_FLAGS = {"features.recipe": "--recipe", "preprocessing": "--preprocess", "alt": "--alt",
          "target": "--target", "model": "--models", "features": "--recipe"}


def parse_steps(text: str) -> list[dict]:
    """--preprocess's comma list as spec step documents (validated by the spec's models)."""
    steps = []
    for piece in (part.strip() for part in text.split(",")):
        if not piece:
            raise CommandError("--preprocess: an empty step (two commas in a row?)")
        name, _, value = piece.partition("=")
        if name == "select":
            steps.append(_select_step(value))
            continue
        if name not in _STEP_WORDS:
            raise CommandError(
                f"--preprocess: unknown step {name!r} "
                "(known: impute, outliers, scale, pca, select, autoencoder)"
            )
        step: dict = {"step": name}
        if value:
            step[_STEP_WORDS[name]] = _number(value, name) if name in ("pca", "autoencoder") else value
        steps.append(step)
    return steps


def _select_step(value: str) -> dict:
    by, _, amount = value.rpartition(":")
    if not amount or by not in ("", "mi", "importance"):
        raise CommandError("--preprocess: select=K, select=SHARE, select=mi:K or select=mi:SHARE")
    number = _number(amount, "select")
    rule = {"top_k": int(number)} if float(number).is_integer() and number >= 1 else {"threshold": number}
    return {"step": "select", "by": "mutual_info" if by == "mi" else "importance", **rule}


def _number(text: str, step: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise CommandError(f"--preprocess: {step}={text}: not a number") from None


def _distributed(args, config) -> dict | None:
    """training.distributed with --processes / --backend over it (None: neither given)."""
    if args.processes is None and args.backend is None:
        return None
    given = {"processes": args.processes, "backend": args.backend}
    return {**config.training.distributed.model_dump(),
            **{key: value for key, value in given.items() if value is not None}}


def parse_alt(text: str) -> list[dict]:
    """--alt's comma list of KIND[:MAX_STALENESS] as spec documents."""
    found = []
    for piece in (part.strip() for part in text.split(",") if part.strip()):
        kind, _, age = piece.partition(":")
        found.append({"kind": kind, **({"max_staleness": age} if age else {})})
    return found


def _spec_problem(message: str) -> str:
    """A spec error (`spec: preprocessing[1].variance: ...`) worded with the flag that set it."""
    key = message.removeprefix("spec: ")
    for prefix, flag in _FLAGS.items():
        if key.startswith(prefix):
            return f"{flag}: {key}"
    return key


def _first_problem(error) -> str:
    """`--models: unknown model kind 'foo'; known kinds: ...` from a pydantic ValidationError."""
    errors = getattr(error, "errors", None)
    if errors is None:
        return str(error)
    first = errors()[0]
    option = {"models": "--models", "cadence": "--cadence", "threshold_bps": "--threshold-bps",
              "horizon": "--horizon", "cost_bps": "--cost-bps", "n_folds": "--folds", "recipe": "--recipe",
              "target": "--target", "alt": "--alt", "preprocessing": "--preprocess"}
    where = option.get(str(first["loc"][0]) if first["loc"] else "", "training")
    inner = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"][1:]
                    if not (isinstance(part, str) and part in _STEP_WORDS | {"select": ""}))
    key = f" {str(first['loc'][0])}{inner}:" if inner else ""
    return f"{where}:{key} {first['msg'].removeprefix('Value error, ')}"

"""`huracan train`: fit every configured model kind on an OHLCV file and store the versions."""

from __future__ import annotations

from engine.cadence import Cadence
from huracan_tui.cli.output import CommandError, clean, emit, fmt
from huracan_tui.cli.subcommands.data import add_text_format_options, symbol_option
from huracan_tui.settings import resolve_brain_url


def register(command) -> None:
    from pathlib import Path

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


def run(args, config) -> None:
    from brain import open_brain
    from brain.identity import current_actor
    from brain.registry import slot_key
    from engine.data import load_ohlcv
    from engine.targets import target_name
    from engine.timeframes import infer_timeframe
    from huracan_tui.cli.subcommands.roles import require_operator_here
    from scheduler.config import TrainingConfig
    from scheduler.services.roles import require_writable
    from scheduler.services.training import fit_models, previous_versions, slot_for, store_result

    models = [name.strip() for name in args.models.split(",") if name.strip()] if args.models else None
    updates = {key: value for key, value in {
        "models": models, "horizon": args.horizon, "cost_bps": args.cost_bps, "n_folds": args.folds,
        "cadence": args.cadence, "threshold_bps": args.threshold_bps,
    }.items() if value is not None}
    try:  # validated like the config file, so an unknown kind is named the same way
        training = TrainingConfig.model_validate({**config.training.model_dump(), **updates})
    except ValueError as error:
        raise CommandError(_first_problem(error)) from None

    # Everything that can reject the input runs before the brain is written: bad input writes nothing.
    symbol_option(args.symbol)
    frame = load_ohlcv(args.data, symbol=args.symbol, separator=args.separator, decimal=args.decimal)
    timeframe = args.timeframe or infer_timeframe(frame)
    # Who may train, and whether the brain takes writes at all, is known before anything is fitted.
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        require_operator_here(brain, config, "train")
        require_writable(brain, "train")
    previous = {}
    if training.cadence == "incremental":
        with open_brain(resolve_brain_url(args.brain, config)) as brain:
            key = slot_key(args.symbol, timeframe, target_name(training.horizon))
            if brain.get_slot(key) is not None:
                previous = previous_versions(brain, key, list(training.models))
    results = fit_models(frame, timeframe, training, previous=previous)

    actor, _origin = current_actor()
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        brain.store_bars(args.symbol, timeframe, frame)
        slot = slot_for(brain, args.symbol, timeframe, training.horizon)
        versions = [store_result(brain, slot, result, actor=actor) for result in results]
        document = {
            "slot": slot.key,
            "symbol": args.symbol,
            "timeframe": timeframe,
            "bars": frame.height,
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
                }
                for version, result in zip(versions, results, strict=True)
            ],
        }

    def render(doc) -> str:
        lines = [f"slot {doc['slot']}: {doc['bars']} bars"]
        for v in doc["versions"]:
            m = v["metrics"]
            lines.append(f"  v{v['number']} {v['model_kind']:<9} sharpe={fmt(m.get('sharpe'))} "
                         f"hit={fmt(m.get('hit_rate'))} ic={fmt(m.get('ic'))} "
                         f"rmse={fmt(m.get('rmse'))} sha256={v['artifact_sha256'][:12]}")
        return "\n".join(lines)

    emit(document, args.json, render)


def _first_problem(error) -> str:
    """`--models: unknown model kind 'foo'; known kinds: ...` from a pydantic ValidationError."""
    errors = getattr(error, "errors", None)
    if errors is None:
        return str(error)
    first = errors()[0]
    option = {"models": "--models", "cadence": "--cadence", "threshold_bps": "--threshold-bps",
              "horizon": "--horizon", "cost_bps": "--cost-bps", "n_folds": "--folds"}
    where = option.get(str(first["loc"][0]) if first["loc"] else "", "training")
    return f"{where}: {first['msg'].removeprefix('Value error, ')}"

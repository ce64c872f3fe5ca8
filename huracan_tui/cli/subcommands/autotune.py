"""`huracan auto-tune`: Optuna search over model kinds and parameters, the study stored in the
brain's database (so several workers running this on one brain share it)."""

from __future__ import annotations

from huracan_tui.cli.output import CommandError, clean, emit, fmt
from huracan_tui.settings import resolve_brain_url

DEFAULT_KINDS = "linear,lightgbm"


def register(command) -> None:
    from pathlib import Path

    tune = command("auto-tune", run, "search model kinds and hyperparameters (Optuna) on an OHLCV file")
    tune.add_argument("--data", required=True, type=Path, metavar="FILE", help="CSV or Parquet")
    tune.add_argument("--symbol", required=True, help="symbol, e.g. EURUSD")
    tune.add_argument("--timeframe", help="bar length, e.g. 1h, 1d (default: inferred)")
    tune.add_argument(
        "--kinds", default=DEFAULT_KINDS, help=f"comma-separated model kinds (default: {DEFAULT_KINDS})"
    )
    tune.add_argument("--trials", type=int, default=20, help="trials this run adds to the study (default 20)")
    tune.add_argument("--study", help="study name (default: the slot, e.g. GOOG:1d:fwd_ret_1)")
    tune.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    tune.add_argument("--metric", default="sharpe", help="what to optimise (default sharpe)")
    tune.add_argument("--horizon", type=int, help="forward-return horizon in bars")
    tune.add_argument("--cost-bps", type=float, help="trading cost per unit turnover, in bps")
    tune.add_argument("--folds", type=int, help="walk-forward folds inside the tuning region")
    tune.add_argument(
        "--holdout", type=float, default=0.2, help="share of the latest rows held out (default 0.2)"
    )
    tune.add_argument(
        "--signal-version", type=int, metavar="N",
        help="sizing kinds (ppo_sizing): the slot's version whose out-of-sample forecast they size on "
             "(default: the champion's)",
    )
    tune.add_argument(
        "--params",
        action="append",
        default=[],
        metavar="KIND.NAME=VALUE",
        help="pin a parameter out of the search, e.g. lightgbm.n_estimators=50 (repeatable)",
    )


def run(args, config) -> None:
    from brain import open_brain
    from brain.urls import normalise_url
    from engine.data import load_ohlcv
    from engine.models import MODEL_CLASSES
    from engine.targets import target_name
    from engine.timeframes import infer_timeframe
    from engine.tuning import tune
    from huracan_tui.cli.subcommands.roles import require_operator_here

    kinds = [name.strip() for name in args.kinds.split(",") if name.strip()]
    unknown = sorted(set(kinds) - set(MODEL_CLASSES))
    if unknown or not kinds:
        raise CommandError(
            f"--kinds: unknown model kind {', '.join(unknown) or '(none given)'} "
            f"(known: {', '.join(MODEL_CLASSES)})"
        )
    if args.trials < 1:
        raise CommandError(f"--trials must be >= 1, got {args.trials}")
    fixed = _pinned(args.params)
    training = config.training
    horizon = args.horizon or training.horizon
    frame = load_ohlcv(args.data, symbol=args.symbol)
    timeframe = args.timeframe or infer_timeframe(frame)
    study = args.study or f"{args.symbol}:{timeframe}:{target_name(horizon)}"

    url = resolve_brain_url(args.brain, config)
    with open_brain(url) as brain:  # the database answers and is a brain (migrated) before any trial runs
        require_operator_here(brain, config, "auto-tune")  # the study is stored in the brain
        signal = _sizing_signal(brain, f"{args.symbol}:{timeframe}:{target_name(horizon)}", kinds,
                                args.signal_version)
    storage = normalise_url(url).render_as_string(hide_password=False)
    result = tune(
        frame,
        timeframe=timeframe,
        horizon=horizon,
        cost_bps=args.cost_bps if args.cost_bps is not None else training.cost_bps,
        kinds=kinds,
        n_trials=args.trials,
        storage=storage,
        study_name=study,
        seed=training.seed,
        timeout=args.timeout,
        n_folds=args.folds or min(training.n_folds, 3),
        holdout_fraction=args.holdout,
        metric=args.metric,
        threshold_bps=training.threshold_bps,
        fixed_params=fixed,
        signal=signal,
    )
    document = clean(
        {
            "study": result.study_name,
            "symbol": args.symbol,
            "timeframe": timeframe,
            "metric": result.metric,
            "direction": result.direction,
            "best": {"kind": result.best_kind, "params": result.best_params, "score": result.best_score},
            "holdout": {
                "score": result.holdout_score,
                "metrics": result.holdout_metrics,
                "rows": result.holdout_rows,
                "start": result.holdout_start,
                "end": result.holdout_end,
            },
            "tuning": {"rows": result.tuning_rows, "start": result.tuning_start, "end": result.tuning_end},
            "trials": {
                "this_run": result.trials_run,
                "total": result.trials_total,
                "complete": result.trials_complete,
                "pruned": result.trials_pruned,
            },
            "search_space": result.search_space,
        }
    )

    def render(doc) -> str:
        best, holdout, trials = doc["best"], doc["holdout"], doc["trials"]
        params = ", ".join(f"{k}={v}" for k, v in best["params"].items()) or "defaults"
        return "\n".join(
            [
                f"study {doc['study']}: {trials['this_run']} trials run, {trials['total']} in the study "
                f"({trials['complete']} complete, {trials['pruned']} pruned)",
                f"  best {best['kind']} {doc['metric']}={fmt(best['score'])} (walk-forward, tuning region)",
                f"  params {params}",
                f"  holdout {doc['metric']}={fmt(holdout['score'])} on {holdout['rows']} rows "
                f"{holdout['start'][:10]} .. {holdout['end'][:10]} (never seen by any trial)",
            ]
        )

    emit(document, args.json, render)


def _pinned(pairs: list[str]) -> dict[str, dict]:
    """--params lightgbm.n_estimators=50 -> {"lightgbm": {"n_estimators": 50}} (YAML scalars)."""
    import yaml

    fixed: dict[str, dict] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        kind, dot, name = key.partition(".")
        if not sep or not dot or not kind or not name:
            raise CommandError(f"--params {pair!r}: use KIND.NAME=VALUE, e.g. lightgbm.n_estimators=50")
        fixed.setdefault(kind.strip(), {})[name.strip()] = yaml.safe_load(value)
    return fixed


def _sizing_signal(brain, slot: str, kinds: list[str], version: int | None):
    """The member forecast the sizing kinds among `kinds` read (scheduler.services.sizing), as
    training finds it: `version`, else the slot's champion. None when no sizing kind is searched."""
    from engine.rl.signal import SIGNAL_PARAM, SignalError
    from engine.training import needs_signal
    from scheduler.services.sizing import sizing_signal

    sizing = [kind for kind in kinds if needs_signal(kind)]
    if not sizing:
        if version is not None:
            raise CommandError("--signal-version is for sizing kinds (ppo_sizing); none is in --kinds")
        return None
    try:
        return sizing_signal(brain, slot, {} if version is None else {SIGNAL_PARAM: version}, sizing[0])
    except SignalError as error:
        raise CommandError(str(error)) from None

"""`huracan evaluate`: score a prediction file against OHLCV bars with Huracan's own metrics, so
anyone can hold their model to the numbers ours are judged by. Reads two files, writes nothing."""

from __future__ import annotations

import math

from huracan_tui.cli.output import CommandError, clean, emit


def register(command) -> None:
    from pathlib import Path

    evaluate = command("evaluate", run, "score a prediction file against OHLCV bars (ML + trading metrics)")
    evaluate.add_argument("--data", required=True, type=Path, metavar="FILE", help="OHLCV CSV or Parquet")
    evaluate.add_argument(
        "--predictions",
        required=True,
        type=Path,
        metavar="FILE",
        help="CSV or Parquet with a timestamp column and a prediction column",
    )
    evaluate.add_argument("--timeframe", help="bar length, e.g. 1h, 1d (default: inferred from the data)")
    evaluate.add_argument(
        "--horizon", type=int, help="bars ahead the prediction is about (default: the config's, 1)"
    )
    evaluate.add_argument(
        "--cost-bps", type=float, help="trading cost per unit turnover, in bps (default: the config's, 1)"
    )
    evaluate.add_argument("--column", default="prediction", help="prediction column (default: prediction)")
    evaluate.add_argument(
        "--kind",
        choices=("return", "class"),
        default="return",
        help="return: a forward-return forecast in bps (default); class: -1 sell / 0 hold / 1 buy",
    )
    evaluate.add_argument(
        "--probability",
        metavar="COLUMN",
        help="column holding the probability of the buy class, for log loss and ROC AUC",
    )
    evaluate.add_argument(
        "--threshold-bps",
        type=float,
        default=0.0,
        help="a move beyond +-this many bps is a buy / sell, otherwise hold (default 0)",
    )


def run(args, config) -> None:
    from engine.data import load_ohlcv
    from engine.prediction_files import evaluate_prediction_frame, load_predictions
    from engine.timeframes import infer_timeframe

    horizon = args.horizon if args.horizon is not None else config.training.horizon
    cost_bps = args.cost_bps if args.cost_bps is not None else config.training.cost_bps
    if not 0 <= cost_bps < math.inf:
        raise CommandError(f"--cost-bps must be a number >= 0, got {cost_bps:g}")
    if not 0 <= args.threshold_bps < math.inf:
        raise CommandError(f"--threshold-bps must be a number >= 0, got {args.threshold_bps:g}")
    if horizon < 1:
        raise CommandError(f"--horizon must be a whole number of bars >= 1, got {horizon}")

    bars = load_ohlcv(args.data)
    predictions = load_predictions(args.predictions, column=args.column, probability=args.probability)
    timeframe = args.timeframe or infer_timeframe(bars)
    result = evaluate_prediction_frame(
        bars,
        predictions,
        timeframe=timeframe,
        horizon=horizon,
        cost_bps=cost_bps,
        threshold_bps=args.threshold_bps,
        kind=args.kind,
        source=str(args.predictions),
    )
    document = clean(
        {
            "data": str(args.data),
            "predictions": str(args.predictions),
            "symbol": bars["symbol"][0],
            "timeframe": timeframe,
            "horizon": horizon,
            "cost_bps": float(cost_bps),
            "threshold_bps": float(args.threshold_bps),
            "kind": args.kind,
            **result,
        }
    )
    emit(document, args.json, render)


def render(document) -> str:
    lines = [
        f"{document['predictions']} against {document['data']} ({document['symbol']} "
        f"{document['timeframe']}, horizon {document['horizon']}, cost {document['cost_bps']:g} bps)",
        f"  {document['scored']} of {document['rows']} predictions scored, "
        f"{document['first_ts']:%Y-%m-%d %H:%M} .. {document['last_ts']:%Y-%m-%d %H:%M} UTC",
    ]
    for section in ("ml", "trading"):
        lines.append(f"  {section}:")
        lines.extend(f"    {name:<18} {_number(value)}" for name, value in document[section].items())
    return "\n".join(lines)


def _number(value) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.6g}"

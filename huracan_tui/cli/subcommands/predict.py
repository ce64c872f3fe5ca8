"""`huracan predict SLOT --data FILE`: a stored version's predictions for the bars of a file."""

from __future__ import annotations

from huracan_tui.cli.output import CommandError, clean, emit
from huracan_tui.cli.subcommands.data import add_text_format_options
from huracan_tui.settings import resolve_brain_url

OUTPUT_FORMATS = (".parquet", ".csv")


def register(command) -> None:
    from pathlib import Path

    predict = command("predict", run, "predict with a stored model version on an OHLCV file")
    predict.add_argument("slot", help="slot id, e.g. GOOG:1d:fwd_ret_1")
    predict.add_argument("--number", type=int, help="version number (default: the latest)")
    predict.add_argument("--data", required=True, type=Path, metavar="FILE", help="CSV or Parquet")
    add_text_format_options(predict)
    predict.add_argument(
        "--output", type=Path, metavar="OUT", help="write (ts, prediction) to .parquet or .csv"
    )


def run(args, config) -> None:
    from brain import open_brain
    from engine.data import load_ohlcv
    from engine.serving import load_servable
    from engine.timeframes import infer_timeframe

    if args.output is not None and args.output.suffix.lower() not in OUTPUT_FORMATS:
        raise CommandError(f"--output {args.output}: use a .parquet or .csv file name")
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        slot = brain.get_slot(args.slot)
        if slot is None:
            raise CommandError(f"no slot {args.slot!r} in the brain (see `huracan status`)")
        version = (
            brain.get_version(args.slot, args.number)
            if args.number is not None
            else brain.latest_version(args.slot)
        )
        if version is None:
            raise CommandError(f"slot {args.slot!r} has no version yet (see `huracan train`)")
        # The brain checks the bytes against their address, load_model against the manifest,
        # load_servable the fitted preprocessing against the manifest's address for it.
        try:
            serving = load_servable(
                version.manifest,
                brain.load_artifact(version.artifact_sha256),
                sha256=version.artifact_sha256,
                load_artifact=brain.load_artifact,
            )
        except ValueError as error:
            raise CommandError(f"{args.slot} v{version.number}: {error}") from None
        alt = {item.kind: brain.load_alt_data(item.kind, slot.symbol) for item in serving.spec.alt}
    manifest = serving.manifest

    frame = load_ohlcv(args.data, symbol=slot.symbol, separator=args.separator, decimal=args.decimal)
    timeframe = infer_timeframe(frame)
    if timeframe != slot.timeframe:
        raise CommandError(f"{args.data}: bars are {timeframe}, slot {args.slot} is {slot.timeframe}")
    try:
        predictions = serving.predict_frame(frame, alt)
    except ValueError as error:
        raise CommandError(f"{args.data}: {error}") from None
    if args.output is not None:
        if args.output.suffix.lower() == ".csv":
            predictions.write_csv(args.output)
        else:
            predictions.write_parquet(args.output)

    document = {
        "slot": args.slot,
        "version": version.number,
        "model_kind": version.model_kind,
        "task": manifest.task,
        "rows": predictions.height,
        "first_ts": predictions["ts"][0],
        "last_ts": predictions["ts"][-1],
        "output": None if args.output is None else str(args.output),
        "predictions": None
        if args.output is not None
        else clean([{"ts": ts, "prediction": value} for ts, value in predictions.iter_rows()]),
    }

    def render(doc) -> str:
        lines = [
            f"{doc['slot']} v{doc['version']} {doc['model_kind']}: {doc['rows']} predictions "
            f"{doc['first_ts']:%Y-%m-%d %H:%M} .. {doc['last_ts']:%Y-%m-%d %H:%M}"
        ]
        if doc["output"]:
            lines.append(f"  written to {doc['output']}")
        else:
            lines += [
                f"  {row['ts']:%Y-%m-%d %H:%M}  {row['prediction']: .4f}" for row in doc["predictions"][-10:]
            ]
        return "\n".join(lines)

    emit(document, args.json, render)

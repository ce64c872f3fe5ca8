"""`huracan data`: look after market data before it meets a model.

  huracan data validate --data FILE_OR_GLOB [--timeframe 1h] [--calendar weekdays] [--store]
  huracan data repair --data FILE --output OUT.parquet [--drop-duplicates] [--sort] [--fill-gaps N]
  huracan data resample --data FILE_OR_GLOB --timeframe 1d --output OUT.parquet
  huracan data import-alt KIND FILE [--symbol SYMBOL]

`validate` exits 0 when no report has an error-level issue (warnings such as gaps, unsorted
rows or mixed UTC offsets are allowed), 3 when at least one does, and 2 when a file cannot be
read as a table at all. Repairs happen only when asked for, and `repair` writes nothing while
an error it cannot fix remains.
"""

from __future__ import annotations

import argparse

from huracan_tui.cli.output import CommandError, clean, emit
from huracan_tui.settings import add_global_options, resolve_brain_url

EXIT_REPORT_HAS_ERRORS = 3
OUTPUT_SUFFIXES = (".parquet", ".pq", ".csv")


def add_text_format_options(parser: argparse.ArgumentParser) -> None:
    """--separator and --decimal, for every command that reads bar files (load_ohlcv's own)."""
    parser.add_argument(
        "--separator",
        metavar="CHAR",
        help="field separator of text files, e.g. ';' or tab (default: ',' for .csv, sniffed for .txt)",
    )
    parser.add_argument(
        "--decimal", default=".", metavar="MARK", help="decimal mark of numbers: '.' (default) or ','"
    )


def symbol_option(value: str | None, flag: str = "--symbol") -> str | None:
    """An optional --symbol, checked by engine.symbols: CommandError naming the option."""
    from engine.symbols import SymbolError, check_symbol

    if value is None:
        return None
    try:
        return check_symbol(value)
    except SymbolError as error:
        raise CommandError(f"{flag}: {error}") from None


def register(command) -> None:
    from pathlib import Path

    from engine.altdata import ALT_KINDS
    from engine.calendars import CALENDARS

    data = command("data", run, "validate, repair and resample OHLCV files; import alternative data")
    actions = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str, epilog: str | None = None) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=help_text, epilog=epilog)
        add_global_options(sub, suppress_defaults=True)
        sub.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document on stdout"
        )
        return sub

    def timeframe_options(sub: argparse.ArgumentParser, *, required: bool = False) -> None:
        sub.add_argument(
            "--timeframe",
            required=required,
            help="bar length, e.g. 1h, 1d" + ("" if required else " (default: inferred)"),
        )
        sub.add_argument(
            "--calendar",
            choices=CALENDARS,
            default="24/7",
            help="when the market trades: 24/7 (default), weekdays (weekend closures "
            "are not gaps), none (don't look for gaps)",
        )

    validate = action(
        "validate",
        "report every data quality problem in OHLCV files",
        epilog="exit status: 0 when no report has an error (warnings allowed), 3 when one does, "
        "2 when a file cannot be read at all",
    )
    validate.add_argument("--data", required=True, metavar="FILE_OR_GLOB", help="CSV or Parquet file(s)")
    validate.add_argument("--symbol", help="symbol for files without a symbol column (default: file name)")
    timeframe_options(validate)
    add_text_format_options(validate)
    validate.add_argument(
        "--store", action="store_true", help="also store the report in the brain's data quality log"
    )

    repair = action("repair", "write a repaired copy of an OHLCV file; only the repairs asked for")
    repair.add_argument("--data", required=True, type=Path, metavar="FILE", help="CSV or Parquet file")
    repair.add_argument("--output", required=True, type=Path, metavar="OUT", help=".parquet or .csv")
    repair.add_argument("--symbol", help="symbol for a file without a symbol column (default: file name)")
    repair.add_argument(
        "--drop-duplicates", action="store_true", help="keep the first row of each repeated timestamp"
    )
    repair.add_argument("--sort", action="store_true", help="sort rows by symbol and time")
    repair.add_argument(
        "--fill-gaps",
        type=int,
        default=0,
        metavar="N",
        help="fill gaps of at most N bars with the previous close, volume 0, marked in a `filled` column",
    )
    timeframe_options(repair)
    add_text_format_options(repair)

    resample = action(
        "resample",
        "write coarser bars (open first, high max, low min, close last, "
        "volume sum); partial first and last bars are dropped",
    )
    resample.add_argument("--data", required=True, metavar="FILE_OR_GLOB", help="CSV or Parquet file(s)")
    resample.add_argument("--output", required=True, type=Path, metavar="OUT", help=".parquet or .csv")
    timeframe_options(resample, required=True)
    resample.add_argument(
        "--keep-partial",
        action="store_true",
        help="keep first and last bars that the data covers only in part",
    )
    add_text_format_options(resample)

    import_alt = action(
        "import-alt",
        "store alternative data (funding rates, open interest, liquidations, sentiment) in the brain",
    )
    import_alt.add_argument("kind", choices=tuple(ALT_KINDS), help="kind of data")
    import_alt.add_argument("file", type=Path, metavar="FILE", help="CSV or Parquet with ts, symbol, values")
    import_alt.add_argument("--symbol", help="symbol for a file without a symbol column (default: file name)")


def run(args, config) -> None:
    handlers = {"validate": _validate, "repair": _repair, "resample": _resample, "import-alt": _import_alt}
    handlers[args.data_command](args, config)


# --- validate -------------------------------------------------------------------------------


def _validate(args, config) -> None:
    from brain import open_brain
    from engine.quality import validate_ohlcv
    from engine.raw import read_raw_ohlcv
    from engine.sources import expand_paths

    symbol_option(args.symbol)
    if args.store:  # may this user store the reports? known before any file is read
        _require_operator(args, config, "data validate --store")
    reports = []
    for path in expand_paths(args.data):
        raw = read_raw_ohlcv(path, symbol=args.symbol, separator=args.separator, decimal=args.decimal)
        reports.append(validate_ohlcv(raw, args.timeframe, args.calendar, source=str(path.resolve())))
    if args.store:
        with open_brain(resolve_brain_url(args.brain, config)) as brain:
            for report in reports:
                brain.record_quality_report(
                    report.source,
                    report.log_rows(),
                    symbol=report.symbols[0] if len(report.symbols) == 1 else None,
                    timeframe=report.timeframe,
                    calendar=report.calendar,
                )
    document = {
        "has_errors": any(report.has_errors for report in reports),
        "stored": bool(args.store),
        "reports": [clean(report.to_dict()) for report in reports],
    }
    emit(document, args.json, _render_reports)
    if document["has_errors"]:
        raise SystemExit(EXIT_REPORT_HAS_ERRORS)


def _render_reports(document) -> str:
    lines = []
    for report in document["reports"]:
        symbols = ", ".join(report["symbols"]) or "no symbol"
        lines.append(
            f"{report['source']}: {report['rows']} rows, {symbols}, timeframe "
            f"{report['timeframe'] or '-'}, calendar {report['calendar']}: {report['severity']}"
        )
        for issue in report["issues"]:
            lines.append(
                f"  {issue['severity']:<7} {issue['kind']:<27} {issue['count']:>7}  {issue['example']}"
            )
    if document["stored"]:
        lines.append("stored in the brain's data quality log")
    return "\n".join(lines)


# --- repair and resample ---------------------------------------------------------------------


def _repair(args, config) -> None:
    from engine.quality import repair, validate_ohlcv
    from engine.raw import read_raw_ohlcv

    _check_output(args.output)
    if args.fill_gaps < 0:
        raise CommandError(f"--fill-gaps must be 0 or more, got {args.fill_gaps}")
    symbol_option(args.symbol)
    raw = read_raw_ohlcv(args.data, symbol=args.symbol, separator=args.separator, decimal=args.decimal)
    repaired, log = repair(
        raw,
        drop_duplicates=args.drop_duplicates,
        sort=args.sort,
        fill_gaps_up_to=args.fill_gaps,
        timeframe=args.timeframe,
        calendar=args.calendar,
    )
    # Judge the result as it will be written: rows are numbered as in the output file.
    after = validate_ohlcv(repaired.drop("row"), args.timeframe, args.calendar, source=str(args.data))
    errors = [issue for issue in after.issues if issue.severity == "error"]
    if errors:
        first = errors[0]
        raise CommandError(
            f"{args.data}: not written; {len(errors)} kind(s) of error remain that these repairs don't fix, "
            f"first {first.kind}: {first.example} (see `huracan data validate`)"
        )
    columns = ["ts", "symbol", "open", "high", "low", "close", "volume"]
    output = repaired.select([*columns, *(["filled"] if "filled" in repaired.columns else [])])
    _write(output, args.output)
    document = {
        "source": str(args.data),
        "output": str(args.output),
        "rows_in": raw.height,
        "rows_out": output.height,
        "repairs": log.actions,
        "remaining": [
            {"kind": i.kind, "count": i.count, "severity": i.severity, "example": i.example}
            for i in after.issues
        ],
    }

    def render(doc) -> str:
        lines = [f"{doc['output']}: {doc['rows_out']} rows written from {doc['rows_in']} in {doc['source']}"]
        lines += [f"  {a['action']}: {a['rows']} row(s)" for a in doc["repairs"]] or [
            "  no repairs asked for"
        ]
        lines += [f"  remaining {i['severity']} {i['kind']}: {i['count']}" for i in doc["remaining"]]
        return "\n".join(lines)

    emit(document, args.json, render)


def _resample(args, config) -> None:
    from engine.resample import resample_ohlcv
    from engine.sources import read_ohlcv_source

    _check_output(args.output)
    frame = read_ohlcv_source({"path": args.data, "separator": args.separator, "decimal": args.decimal})
    resampled = resample_ohlcv(frame, args.timeframe, keep_partial=args.keep_partial, calendar=args.calendar)
    _write(resampled, args.output)
    document = {
        "source": args.data,
        "output": str(args.output),
        "timeframe": args.timeframe,
        "bars_in": frame.height,
        "bars_out": resampled.height,
        "symbols": sorted(resampled["symbol"].unique().to_list()),
        "first_ts": resampled["ts"].min(),
        "last_ts": resampled["ts"].max(),
    }
    emit(
        document,
        args.json,
        lambda doc: (
            f"{doc['output']}: {doc['bars_out']} {doc['timeframe']} bars from {doc['bars_in']} "
            f"({', '.join(doc['symbols'])})"
        ),
    )


def _check_output(path) -> None:
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise CommandError(f"--output {path}: use a .parquet or .csv file name")


def _write(frame, path) -> None:
    try:
        if path.suffix.lower() == ".csv":
            frame.write_csv(path)
        else:
            frame.write_parquet(path)
    except OSError as error:
        raise CommandError(f"--output {path}: cannot write: {error.strerror or error}") from None


# --- alternative data ------------------------------------------------------------------------


def _require_operator(args, config, what: str) -> None:
    from brain import open_brain
    from huracan_tui.cli.subcommands.roles import require_operator_here

    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        require_operator_here(brain, config, what)


def _import_alt(args, config) -> None:
    import polars as pl

    from brain import open_brain
    from engine.altdata import read_alt_data

    symbol_option(args.symbol)
    _require_operator(args, config, "data import-alt")
    frame = read_alt_data(args.file, args.kind, symbol=args.symbol)  # bad input: nothing stored
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        stored = brain.store_alt_data(args.kind, frame)
    per_symbol = (
        frame.group_by("symbol")
        .agg(
            pl.len().alias("rows"), pl.col("ts").min().alias("first_ts"), pl.col("ts").max().alias("last_ts")
        )
        .sort("symbol")
    )
    document = {"kind": args.kind, "file": str(args.file), "rows": stored, "symbols": per_symbol.to_dicts()}
    emit(
        document,
        args.json,
        lambda doc: (
            f"{doc['rows']} {doc['kind']} rows stored for {', '.join(s['symbol'] for s in doc['symbols'])}"
        ),
    )

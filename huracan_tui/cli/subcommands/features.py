"""`huracan features`: compute a feature recipe, or a stored version's features, on OHLCV files
and write one Parquet file.

  huracan features --data FILE [--data FILE ...] [--recipe core|full|RECIPE.yaml] --output OUT.parquet
  huracan features --data FILE --version SLOT[:N] --output OUT.parquet

Each --data file holds one symbol (named by --symbol, in the same order, or by the file name);
several files make one multi-symbol output, each symbol computed on its own rows only. The
output holds the canonical columns (ts, symbol, open, high, low, close, volume) and then every
column of the recipe (default: full, every indicator; core: the 8 columns training uses by
default). With --version, the columns are that version's inputs, computed from its spec as
training and the live loop compute them (engine.pipeline.version_features: its recipe, and its
alternative data from the brain joined as of each bar).
A bad recipe, bad data or a bad --output is refused before anything is written.
"""

from __future__ import annotations

from huracan_tui.cli.output import CommandError, emit
from huracan_tui.cli.subcommands.data import add_text_format_options, symbol_option

OUTPUT_SUFFIXES = (".parquet", ".pq")


def register(command) -> None:
    from pathlib import Path

    features = command("features", run, "compute a feature recipe on OHLCV files and write Parquet")
    features.add_argument(
        "--data",
        required=True,
        action="append",
        type=Path,
        metavar="FILE",
        help="CSV or Parquet of one symbol; repeat for several symbols",
    )
    features.add_argument(
        "--symbol",
        action="append",
        metavar="SYMBOL",
        help="symbol of each --data file, in the same order (default: from the file name)",
    )
    which = features.add_mutually_exclusive_group()
    which.add_argument(
        "--recipe",
        metavar="RECIPE",
        help="core, full (every indicator, the default) or a YAML feature recipe file",
    )
    which.add_argument(
        "--version",
        metavar="SLOT[:N]",
        help="a stored version's features, from its spec (N: version number, default the latest)",
    )
    features.add_argument("--output", required=True, type=Path, metavar="OUT", help=".parquet file to write")
    add_text_format_options(features)


def run(args, config) -> None:
    import polars as pl

    from engine.data import CANONICAL_COLUMNS, load_ohlcv
    from engine.features.recipe import resolve_recipe
    from engine.pipeline import input_columns, make_spec, version_features

    # Everything that can reject the input runs before the output is opened: bad input writes nothing.
    _check_output(args.output)
    symbols = args.symbol or [None] * len(args.data)
    if len(symbols) != len(args.data):
        raise CommandError(
            f"--symbol: given {len(symbols)} time(s) for {len(args.data)} --data file(s); "
            "give one per file, in the same order, or none"
        )
    for symbol in symbols:
        symbol_option(symbol)
    alt = None
    if args.version is not None:
        spec, alt, label, slot_symbol = _version_spec(args, config)
        if symbols[0] is not None and symbols[0] != slot_symbol:
            raise CommandError(f"--symbol {symbols[0]}: version {args.version} is for {slot_symbol}")
        symbols = [slot_symbol]
    else:
        label, _recipe = resolve_recipe(args.recipe or "full")
        spec = make_spec("linear", recipe=args.recipe or "full")
    frames = [
        load_ohlcv(path, symbol=symbol, separator=args.separator, decimal=args.decimal)
        for path, symbol in zip(args.data, symbols, strict=True)
    ]
    _check_symbols_distinct(frames, args.data)
    frame = pl.concat(frames)
    columns = input_columns(spec)
    # The one feature function: the one training, predict and the live loop use.
    out = version_features(frame, spec, alt).select([*CANONICAL_COLUMNS, *columns])
    _write_atomically(out, args.output)

    document = {
        "rows": out.height,
        "columns": out.columns,
        "features": columns,
        "symbols": [part["symbol"][0] for part in frames],
        "recipe": label,
        "output": str(args.output),
    }

    def render(doc) -> str:
        return (
            f"wrote {doc['rows']} rows x {len(doc['columns'])} columns ({len(doc['features'])} features; "
            f"{', '.join(doc['symbols'])}) to {doc['output']}"
        )

    emit(document, args.json, render)


def _version_spec(args, config):
    """(the spec of --version, its alternative data from the brain, a label, the slot's symbol)."""
    from brain import open_brain
    from engine.pipeline import spec_of_manifest
    from huracan_tui.settings import resolve_brain_url

    if len(args.data) != 1:
        raise CommandError("--version: a version is for one symbol; give one --data file")
    # SLOT is SYMBOL:TIMEFRAME:TARGET; a fourth part is the version number.
    parts = args.version.split(":")
    slot_key, number = (":".join(parts[:3]), parts[3]) if len(parts) == 4 else (args.version, "")
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        slot = brain.get_slot(slot_key)
        if slot is None:
            raise CommandError(f"--version: no slot {slot_key!r} in the brain (see `huracan status`)")
        if number and not number.isdigit():
            raise CommandError(f"--version {args.version}: the version number must be a whole number")
        version = brain.get_version(slot_key, int(number)) if number else brain.latest_version(slot_key)
        if version is None:
            raise CommandError(f"--version: slot {slot_key} has no version yet")
        spec = spec_of_manifest(version.manifest)
        frames = {item.kind: brain.load_alt_data(item.kind, slot.symbol) for item in spec.alt}
    return spec, frames, f"{slot_key} v{version.number}", slot.symbol


def _check_output(path) -> None:
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise CommandError(
            f"--output: {path} is not a Parquet file name (expected {' or '.join(OUTPUT_SUFFIXES)})"
        )
    if path.is_dir():
        raise CommandError(f"--output: {path} is a folder")
    if not path.parent.is_dir():
        raise CommandError(f"--output: folder {path.parent} does not exist")


def _check_symbols_distinct(frames, paths) -> None:
    seen: dict[str, object] = {}
    for frame, path in zip(frames, paths, strict=True):
        symbol = frame["symbol"][0]
        if symbol in seen:
            raise CommandError(
                f"--data: {seen[symbol]} and {path} are both symbol {symbol}; name them apart with --symbol"
            )
        seen[symbol] = path


def _write_atomically(frame, path) -> None:
    """Write to a temporary file beside `path`, then rename: a crash never leaves half a file."""
    import os

    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        frame.write_parquet(temporary)
        os.replace(temporary, path)
    except OSError as error:
        raise CommandError(f"--output: cannot write {path}: {error.strerror or error}") from None
    finally:
        temporary.unlink(missing_ok=True)

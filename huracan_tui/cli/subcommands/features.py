"""`huracan features`: compute a feature recipe on OHLCV files and write one Parquet file.

  huracan features --data FILE [--data FILE ...] [--recipe RECIPE.yaml] --output OUT.parquet [--json]

Each --data file holds one symbol (named by --symbol, in the same order, or by the file name);
several files make one multi-symbol output, each symbol computed on its own rows only. The
output holds the canonical columns (ts, symbol, open, high, low, close, volume) and then every
column of the recipe (default: engine/features/default_recipe.yaml, every indicator).
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
    features.add_argument(
        "--recipe", type=Path, metavar="FILE", help="YAML feature recipe (default: every indicator)"
    )
    features.add_argument("--output", required=True, type=Path, metavar="OUT", help=".parquet file to write")
    add_text_format_options(features)


def run(args, config) -> None:
    import polars as pl

    from engine.data import CANONICAL_COLUMNS, load_ohlcv
    from engine.features import DEFAULT_RECIPE_PATH, compute_features, load_recipe

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
    recipe = load_recipe(args.recipe)
    frames = [
        load_ohlcv(path, symbol=symbol, separator=args.separator, decimal=args.decimal)
        for path, symbol in zip(args.data, symbols, strict=True)
    ]
    _check_symbols_distinct(frames, args.data)
    frame = pl.concat(frames)
    out = compute_features(frame, recipe).select([*CANONICAL_COLUMNS, *recipe.columns()])
    _write_atomically(out, args.output)

    document = {
        "rows": out.height,
        "columns": out.columns,
        "features": recipe.columns(),
        "symbols": [part["symbol"][0] for part in frames],
        "recipe": str(args.recipe or DEFAULT_RECIPE_PATH),
        "output": str(args.output),
    }

    def render(doc) -> str:
        return (
            f"wrote {doc['rows']} rows x {len(doc['columns'])} columns ({len(doc['features'])} features; "
            f"{', '.join(doc['symbols'])}) to {doc['output']}"
        )

    emit(document, args.json, render)


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

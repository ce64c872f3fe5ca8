"""`huracan drift`: per-column drift of a current window against a reference window.

  huracan drift --reference A.parquet --current B.parquet [--columns a,b ...]
                [--method ks|psi|wasserstein|jensenshannon|psi_quantile] [--threshold X]
                [--multivariate] [--json]

Prints, per column, the statistic, the p-value where there is one (KS), the threshold and the
verdict, then the dataset verdict (share of drifted columns >= --drift-share). Numbers equal
evidently 0.7's for the same method; `psi_quantile` is PSI on reference-quantile bins (--bins).
Default columns: every numeric column present in both files.

--multivariate adds one row per multivariate check over the same columns together: the current
window's mean reconstruction error by an autoencoder and by PCA (engine.drift.multivariate),
against the bootstrap bound of an unchanged window; it sees a changed relation between columns
(a correlation that flips) that every per-column test misses.
"""

from __future__ import annotations

from huracan_tui.cli.output import CommandError, emit

METHOD_CHOICES = ("ks", "psi", "wasserstein", "jensenshannon", "psi_quantile")


def add_window_arguments(parser, methods=METHOD_CHOICES) -> None:
    from pathlib import Path

    parser.add_argument(
        "--reference", required=True, type=Path, metavar="FILE", help="reference window (.parquet)"
    )
    parser.add_argument(
        "--current", required=True, type=Path, metavar="FILE", help="current window (.parquet)"
    )
    parser.add_argument(
        "--columns",
        action="append",
        metavar="COLS",
        help="columns to test (comma-separated, repeatable; default: shared numeric columns)",
    )
    parser.add_argument("--method", choices=methods, default="psi", help="drift test (default: psi)")
    parser.add_argument(
        "--threshold", type=float, help="drift threshold (default: evidently's for the method)"
    )
    parser.add_argument(
        "--drift-share",
        type=float,
        default=0.5,
        metavar="SHARE",
        help="dataset drifts when this share of columns drifts (default 0.5)",
    )


def register(command) -> None:
    drift = command(
        "drift", run, "per-column drift (KS, PSI, Wasserstein, Jensen-Shannon) between two windows"
    )
    add_window_arguments(drift)
    drift.add_argument("--bins", type=int, default=10, help="bins for --method psi_quantile (default 10)")
    drift.add_argument("--multivariate", action="store_true",
                       help="also the reconstruction-error checks (autoencoder, PCA) of the columns together")


def load_windows(args):
    """(reference, current, columns) as polars frames; one clear line for anything wrong."""
    import polars as pl

    frames = []
    for flag, path in (("--reference", args.reference), ("--current", args.current)):
        if not path.is_file():
            raise CommandError(f"{flag}: no such file {path}")
        try:
            frames.append(pl.read_parquet(path))
        except Exception as error:  # polars raises several types for a file that is not Parquet
            raise CommandError(f"{flag}: cannot read {path} as Parquet ({type(error).__name__})") from None
    reference, current = frames
    if args.columns:
        columns = [name.strip() for group in args.columns for name in group.split(",") if name.strip()]
        for flag, frame in (("--reference", reference), ("--current", current)):
            missing = [name for name in columns if name not in frame.columns]
            if missing:
                raise CommandError(f"{flag}: column(s) {', '.join(missing)} not in the file")
    else:
        # Two windows of one thing have the same columns: one missing on either side would
        # otherwise drop out of the comparison without a word.
        sides = (
            ("--current", args.current, current, "--reference", reference),
            ("--reference", args.reference, reference, "--current", current),
        )
        for flag, path, frame, other_flag, other in sides:
            missing = [name for name in other.columns if name not in frame.columns]
            if missing:
                raise CommandError(
                    f"{flag}: {path} lacks column(s) {', '.join(missing)} that {other_flag} has"
                )
        columns = [name for name in reference.columns if reference[name].dtype.is_numeric()]
    for name in columns if args.columns else reference.columns:
        kinds = [_kind(reference[name].dtype), _kind(current[name].dtype)]
        if kinds[0] != kinds[1]:
            raise CommandError(
                f"column {name!r}: {reference[name].dtype} in --reference but {current[name].dtype} "
                "in --current; both windows need one type"
            )
    if not columns:
        raise CommandError("--reference / --current share no numeric column")
    return reference, current, columns


def _kind(dtype) -> str:
    """What a column is for comparing windows: numbers of any width are one kind."""
    return "numbers" if dtype.is_numeric() else str(dtype)


def run(args, config) -> None:
    from engine.drift import DriftCheck

    reference, current, columns = load_windows(args)
    check = DriftCheck(
        args.method, threshold=args.threshold, columns=columns, drift_share=args.drift_share, n_bins=args.bins
    )
    report = check.fit(reference).check(current)
    document = report.to_dict()
    document["reference"], document["current"] = str(args.reference), str(args.current)
    if args.multivariate:
        document["multivariate"] = multivariate_checks(reference, current, columns)

    def render(doc) -> str:
        lines = [f"{'column':<24} {'statistic':>12} {'p_value':>12} {'threshold':>10}  verdict"]
        for row in doc["features"]:
            p_value = "-" if row["p_value"] is None else f"{row['p_value']:.6g}"
            verdict = "DRIFT" if row["drifted"] else "ok"
            lines.append(
                f"{row['feature']:<24} {row['statistic']:>12.6g} {p_value:>12} {row['threshold']:>10g}  "
                f"{verdict}"
            )
        share = f"{doc['share_drifted']:.0%} of {len(doc['features'])} columns drifted"
        lines.append(
            f"dataset: {'DRIFT' if doc['dataset_drift'] else 'ok'} ({share}, method {doc['method']})"
        )
        for row in doc.get("multivariate", []):
            lines.append(
                f"{row['feature']:<24} {row['statistic']:>12.6g} {'-':>12} {row['threshold']:>10.6g}  "
                f"{'DRIFT' if row['drifted'] else 'ok'}  (reference error {row['reference_error']:.6g}, "
                f"{row['components']} units over {len(row['columns'])} columns)"
            )
        return "\n".join(lines)

    emit(document, args.json, render)


def multivariate_checks(reference, current, columns: list[str]) -> list[dict]:
    """Each multivariate method's check of the columns together, as JSON-ready dicts."""
    from engine.drift import MULTIVARIATE_METHODS, ReconstructionDriftCheck

    try:
        return [ReconstructionDriftCheck(method, columns=columns).fit(reference).check(current).to_dict()
                for method in MULTIVARIATE_METHODS]
    except ValueError as error:
        raise CommandError(f"--multivariate: {error}") from None

"""`huracan report`: reports for a deep dive in a browser.

  huracan report drift --reference A.parquet --current B.parquet [--columns ...]
                       [--method ks|psi|wasserstein|jensenshannon] --html OUT.html [--json]

`report drift` writes evidently's own HTML drift report for the two windows (the same columns,
method and threshold `huracan drift` uses). Bad input writes nothing.
"""

from __future__ import annotations

from huracan_tui.cli.output import CommandError, emit
from huracan_tui.cli.subcommands.drift import add_window_arguments, load_windows


def register(command) -> None:
    import argparse
    from pathlib import Path

    report = command("report", _missing_kind, "reports for a browser (report drift: evidently's HTML)")
    kinds = report.add_subparsers(dest="report_kind", metavar="KIND", required=True)
    drift = kinds.add_parser(
        "drift",
        help="evidently's HTML drift report for two windows",
        description="evidently's HTML drift report for two windows",
    )
    add_window_arguments(drift, methods=("ks", "psi", "wasserstein", "jensenshannon"))
    drift.add_argument("--html", required=True, type=Path, metavar="OUT", help=".html file to write")
    drift.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document on stdout"
    )
    drift.set_defaults(handler=run_drift)


def _missing_kind(args, config) -> None:  # argparse requires KIND; kept for completeness
    raise CommandError("report: say which report, e.g. `huracan report drift ...`")


def run_drift(args, config) -> None:
    from engine.drift.report import write_evidently_html

    if args.html.suffix.lower() not in (".html", ".htm"):
        raise CommandError(f"--html: {args.html} should end in .html")
    if not args.html.parent.is_dir():
        raise CommandError(f"--html: folder {args.html.parent} does not exist")
    reference, current, columns = load_windows(args)
    temporary = args.html.with_name(f".{args.html.name}.partial")
    try:
        write_evidently_html(
            reference,
            current,
            temporary,
            method=args.method,
            columns=columns,
            threshold=args.threshold,
            drift_share=args.drift_share,
        )
        temporary.replace(args.html)  # whole file or nothing
    finally:
        temporary.unlink(missing_ok=True)
    document = {
        "html": str(args.html),
        "method": args.method,
        "columns": columns,
        "reference": str(args.reference),
        "current": str(args.current),
    }
    emit(
        document, getattr(args, "json", False), lambda doc: f"wrote evidently's drift report to {doc['html']}"
    )

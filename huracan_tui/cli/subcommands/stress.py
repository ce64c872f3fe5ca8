"""`huracan stress SLOT --paths N [--seed S] [--bars L] [--gan-steps K] [--json]`: the slot's
champion run on N synthetic paths from a GAN trained on its bars (or the one a run on the same
bars and settings stored), the spread of its Sharpe after costs, max drawdown and hit rate over
the paths, and the stylised facts of the paths against the real returns with their verdict.
The report is stored in the brain; the console's slot detail shows the newest. Bad input (no
such slot, no champion, --paths below 1, too little history) writes nothing."""

from __future__ import annotations

import argparse

from huracan_tui.cli.arguments import checked_number
from huracan_tui.cli.output import CommandError, clean, emit
from huracan_tui.settings import resolve_brain_url

EPILOG = """\
Each path is the real history followed by L synthetic bars stitched on at the last real close:
the champion's features warm up on the real bars and only the synthetic ones are scored.
A verdict "fails: ..." names the stylised facts the generator's paths did not reproduce; the
figures above it are then figures about paths that are not like the market."""


def register(command) -> None:
    parser = command("stress", run, "the champion on GAN-made synthetic paths, with the stylised facts")
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("slot", help="slot id, e.g. GOOG:1d:fwd_ret_1")
    parser.add_argument("--paths", type=int, required=True, metavar="N", help="synthetic paths to run")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the GAN's training and its paths (default 0)")
    parser.add_argument("--bars", type=int, default=None, metavar="L",
                        help="synthetic bars per path (default 252)")
    parser.add_argument("--gan-steps", type=int, default=None, metavar="K",
                        help="GAN training steps when no stored generator fits (default 2,000)")


def run(args, config) -> None:
    from brain import open_brain
    from engine.synthetic.gan import GanSettings
    from scheduler.services.stress import DEFAULT_BARS, StressError, stress

    # checked before the brain is opened; the service checks them again
    if args.paths < 1:
        raise CommandError(f"--paths must be at least 1, got {args.paths}")
    checked_number(args.paths, "--paths")
    checked_number(args.bars, "--bars")
    checked_number(args.gan_steps, "--gan-steps")
    checked_number(args.seed, "--seed", minimum=0)
    settings = GanSettings(seed=args.seed, **({} if args.gan_steps is None else {"steps": args.gan_steps}))
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        try:
            report, record = stress(brain, args.slot, paths=args.paths, seed=args.seed,
                                    bars=args.bars or DEFAULT_BARS, settings=settings)
        except StressError as error:
            raise CommandError(str(error)) from None
    document = {"id": record.id, "created_at": record.created_at, **clean(report.to_json()),
                "verdict": report.verdict}
    emit(document, args.json, render)


def render(document) -> str:
    generator = "reused the stored generator" if document["generator"]["reused"] else "trained a generator"
    lines = [
        f"stress {document['slot_key']} v{document['version']} {document['kind']}: {document['paths']} paths "
        f"x {document['bars']} bars, seed {document['seed']}, after {document['cost_bps']:g} bps costs "
        f"({generator})",
        f"  {'':<13}{'mean':>9}{'p5':>9}{'p50':>9}{'p95':>9}",
    ]
    for name in ("sharpe", "max_drawdown", "hit_rate"):
        spread = document[name]
        cells = "".join(f"{_number(spread[key]):>9}" for key in ("mean", "p5", "p50", "p95"))
        lines.append(f"  {name:<13}{cells}")
    lines.append("  stylised facts (real vs synthetic):")
    for fact in document["facts"]["facts"]:
        mark = "pass" if fact["passed"] else "FAIL"
        lines.append(f"    {fact['name']:<22}{_number(fact['real']):>9}{_number(fact['synthetic']):>9}  "
                     f"{mark}  {fact['tolerance']}")
    facts = document["facts"]
    lines.append(f"    KS p-value {facts['ks_pvalue']:.3g} ({facts['real_returns']} real, "
                 f"{facts['synthetic_returns']} synthetic returns)")
    lines.append(f"  verdict: {document['verdict']}")
    return "\n".join(lines)


def _number(value) -> str:
    return "-" if value is None else f"{value:.3f}"

"""`huracan ab SLOT --challenger N [--champion N]`: champion versus challenger(s), statistically.

Both versions are re-evaluated on the fold periods of the champion's manifest (a fresh fit on
each fold's training period, then its test period: see engine.abtest.replay_returns), on the bars
stored in the brain, after the manifest's cost_bps. Every test of engine.abtest runs, corrected
across challengers (Holm unless --correction fdr_bh), and the rows are stored in
model_comparisons. The default champion is version 1: there is no promotion yet.
"""

from __future__ import annotations

from huracan_tui.commands.output import CommandError, clean, emit, fmt
from huracan_tui.settings import resolve_brain_url


def register(command) -> None:
    ab = command("ab", run, "compare challenger version(s) with the champion (paired tests, DM, bootstrap)")
    ab.add_argument("slot", help="slot id, e.g. GOOG:1d:fwd_ret_1")
    ab.add_argument("--challenger", type=int, action="append", required=True, metavar="VERSION",
                    help="challenger version number (repeat for several)")
    ab.add_argument("--champion", type=int, default=1, metavar="VERSION", help="default: version 1")
    ab.add_argument("--alpha", type=float, default=0.05)
    ab.add_argument("--correction", choices=("holm", "fdr_bh"), default="holm")
    ab.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the Sharpe difference")
    ab.add_argument("--seed", type=int, default=0)


def run(args, config) -> None:
    from brain import open_brain
    from engine import abtest
    from engine.metrics import periods_per_year

    if args.champion in args.challenger:
        raise CommandError(f"version {args.champion} cannot be its own challenger")
    if not 0 < args.alpha < 1:
        raise CommandError(f"--alpha {args.alpha}: must be between 0 and 1")
    if args.n_boot < 10:
        raise CommandError(f"--n-boot {args.n_boot}: use at least 10 resamples")
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        slot = brain.get_slot(args.slot)
        if slot is None:
            raise CommandError(f"no slot {args.slot!r} in the brain (see `huracan status`)")
        numbers = sorted(set(v.number for v in brain.list_versions(args.slot)))
        for number in (args.champion, *args.challenger):
            if number not in numbers:
                raise CommandError(f"slot {args.slot} has no version {number} (versions: {numbers})")
        champion = brain.get_version(args.slot, args.champion)
        challengers = {n: brain.get_version(args.slot, n) for n in args.challenger}
        frame = brain.load_bars(slot.symbol, slot.timeframe)
        folds = champion.manifest.get("folds") or []
        if not folds:
            raise CommandError(f"{args.slot} v{champion.number}: its manifest has no folds to compare on")
        try:
            base = abtest.replay_returns(frame, champion.manifest, folds)
            others = {
                f"v{n}": abtest.replay_returns(frame, version.manifest, folds)
                for n, version in challengers.items()
            }
            stamps, champion_returns, aligned = abtest.align(base, others)
        except (ValueError, KeyError) as error:
            raise CommandError(f"{args.slot}: {error}") from None
        bars_per_year = periods_per_year(slot.timeframe)
        results = abtest.compare(
            champion_returns, aligned, alpha=args.alpha, correction=args.correction,
            horizon=int(champion.manifest.get("horizon", slot.horizon)), periods_per_year=bars_per_year,
            n_boot=args.n_boot, seed=args.seed,
        )
        scores = abtest.composite_scores(
            {f"v{champion.number}": champion_returns, **aligned}, periods_per_year=bars_per_year
        )
        best = abtest.best_model(scores)
        rows = [
            {
                "slot_key": args.slot,
                "champion_version": champion.number,
                "challenger_version": int(result.challenger[1:]),
                "test": result.test,
                "statistic": result.statistic,
                "p_value": result.p_value,
                "p_adjusted": result.p_adjusted,
                "correction": result.correction,
                "effect_size": result.effect_size,
                "verdict": result.verdict,
                "details": {**result.details, "alpha": args.alpha, "best_model": best},
            }
            for result in results
        ]
        brain.record_comparison(rows)
    document = clean({
        "slot": args.slot,
        "champion": champion.number,
        "challengers": list(args.challenger),
        "periods": len(stamps),
        "first_ts": stamps[0],
        "last_ts": stamps[-1],
        "alpha": args.alpha,
        "correction": args.correction,
        "results": [{k: v for k, v in row.items() if k != "slot_key"} for row in rows],
        "composite": scores,
        "best_model": best,
    })

    def render(doc) -> str:
        lines = [f"{doc['slot']}: champion v{doc['champion']} vs "
                 f"{', '.join(f'v{n}' for n in doc['challengers'])} on {doc['periods']} periods "
                 f"({doc['correction']}, alpha {doc['alpha']})"]
        for row in doc["results"]:
            lines.append(f"  v{row['challenger_version']:<3} {row['test']:<17} stat={fmt(row['statistic'])} "
                         f"p={fmt(row['p_value'])} p_adj={fmt(row['p_adjusted'])} "
                         f"effect={fmt(row['effect_size'])}  {row['verdict']}")
        for name, entry in doc["composite"].items():
            lines.append(f"  {name:<5} composite {fmt(entry['score'])}")
        lines.append(f"best model: {doc['best_model']}")
        return "\n".join(lines)

    emit(document, args.json, render)

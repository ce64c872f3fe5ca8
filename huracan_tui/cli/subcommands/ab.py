"""`huracan ab SLOT --challenger N [--champion N]`: champion versus challenger(s), statistically.

Both versions are re-evaluated on the fold periods of the champion's manifest (a sizing agent
challenging a plain champion: the agent's own folds, see comparison_folds_of; a fresh fit on
each fold's training period, then its test period: see engine.abtest.replay_returns), on the bars
stored in the brain, after the manifest's cost_bps. Every test of engine.abtest runs, corrected
across challengers (Holm unless --correction fdr_bh), and the rows are stored in
model_comparisons (scheduler.services.comparison, which the console's `compare` job runs too). The default
champion is version 1: there is no promotion yet.
"""

from __future__ import annotations

from huracan_tui.cli.output import CommandError, emit, fmt
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
    from huracan_tui.cli.subcommands.roles import require_operator_here
    from scheduler.services.comparison import ComparisonError, compare_versions

    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        require_operator_here(brain, config, "ab")  # the comparison is stored
        try:
            document = compare_versions(brain, args.slot, args.champion, list(args.challenger),
                                        alpha=args.alpha, correction=args.correction,
                                        n_boot=args.n_boot, seed=args.seed)
        except ComparisonError as error:
            raise CommandError(str(error)) from None

    def render(doc) -> str:
        lines = [f"{doc['slot']}: champion v{doc['champion']} vs "
                 f"{', '.join(f'v{n}' for n in doc['challengers'])} on {doc['periods']} periods "
                 f"of v{doc['folds_of']}'s folds ({doc['correction']}, alpha {doc['alpha']})"]
        for row in doc["results"]:
            lines.append(f"  v{row['challenger_version']:<3} {row['test']:<17} stat={fmt(row['statistic'])} "
                         f"p={fmt(row['p_value'])} p_adj={fmt(row['p_adjusted'])} "
                         f"effect={fmt(row['effect_size'])}  {row['verdict']}")
        for name, entry in doc["composite"].items():
            lines.append(f"  {name:<5} composite {fmt(entry['score'])}")
        for name, verdict in doc["overall"].items():
            lines.append(f"  {name:<5} overall {verdict}")
        lines.append(f"best model: {doc['best_model']}")
        return "\n".join(lines)

    emit(document, args.json, render)

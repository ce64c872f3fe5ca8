"""`huracan regimes SLOT`: the regime map of a slot. Which regime the slot is in now (every axis),
and per regime of one axis its versions ranked by the configured metric (`regime_map.metric`,
default Sharpe after costs) with their bars there, too few below `regime_map.min_samples`, and
each one tested against the champion on the bars they share (scheduler/services/regime_map.py).

  huracan regimes GOOG:1d:fwd_ret_1 [--axis trend|vol|hmm] [--regime trending] [--live] [--json]
"""

from __future__ import annotations

from huracan_tui.cli.lifecycle import require_slot
from huracan_tui.cli.output import CommandError, clean, emit, fmt
from huracan_tui.settings import resolve_brain_url

AXES = ("vol", "trend", "hmm")


def register(command) -> None:
    parser = command("regimes", run, "a slot's regime map: which version wins in which market regime")
    parser.add_argument("slot", help="slot id, e.g. GOOG:1d:fwd_ret_1")
    parser.add_argument("--axis", choices=AXES, help="the regime axis (default: regimes.axis, else trend)")
    parser.add_argument("--regime", metavar="NAME",
                        help="only this regime: a label (ranging, high, state_1) or a family (trending)")
    parser.add_argument("--live", action="store_true",
                        help="rank on matured live forecasts instead of the walk-forward out-of-sample bars")


def run(args, config) -> None:
    from brain import BrainError, open_brain
    from scheduler.services.regime_map import axis_of, regime_map, slot_labels

    regime_config = config.regimes
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        require_slot(brain, args.slot)
        try:
            labels = slot_labels(brain, args.slot, regime_config)
            axis = args.axis
            if args.regime is not None:
                found = axis_of(args.regime, labels)
                if axis is not None and axis != found:
                    raise CommandError(f"--regime {args.regime} is a {found} regime, not a {axis} one")
                axis = found
            result = regime_map(brain, args.slot, axis=axis, settings=config.regime_map,
                                source="live" if args.live else "oos",
                                regimes=None if args.regime is None else [args.regime],
                                regime_config=regime_config, labels=labels)
        except (BrainError, ValueError) as error:
            raise CommandError(str(error).splitlines()[0]) from None
        newest = labels.tail(1).row(0, named=True) if labels.height else {}
        current = {name: newest.get(name) for name in labels.columns if name != "ts"}
    emit(clean(map_document(result, current)), args.json, render)


def map_document(result, current: dict) -> dict:
    return {
        "slot": result.slot, "axis": result.axis, "metric": result.metric, "source": result.source,
        "min_samples": result.min_samples, "alpha": result.alpha, "champion": result.champion,
        "current": current,
        "regimes": [
            {"regime": ranking.regime, "bars": ranking.bars,
             "best": None if ranking.best is None else ranking.best.version,
             "versions": [
                 {"version": s.version, "model_kind": s.model_kind, "champion": s.champion, "n": s.n,
                  "value": s.value, "metrics": s.metrics, "rank": s.rank, "too_few_bars": not s.enough,
                  "vs_champion": None if s.against_champion is None else {
                      "test": s.against_champion.test, "n": s.against_champion.n,
                      "difference": s.against_champion.difference, "p_value": s.against_champion.p_value,
                      "p_adjusted": s.against_champion.p_adjusted, "verdict": s.against_champion.verdict,
                      "low": s.against_champion.low, "high": s.against_champion.high}}
                 for s in ranking.standings]}
            for ranking in result.regimes
        ],
    }


def render(doc) -> str:
    now = ", ".join(f"{axis} {label or '-'}" for axis, label in doc["current"].items()) or "no labels yet"
    source = "live forecasts" if doc["source"] == "live" else "walk-forward out-of-sample bars"
    lines = [f"slot {doc['slot']}: now {now}",
             f"regimes on {doc['axis']}, ranked by {doc['metric']} on {source} "
             f"(at least {doc['min_samples']} bars; vs champion at alpha {doc['alpha']:g}, Holm)"]
    if not doc["regimes"]:
        lines.append("  no labelled bars on this axis yet")
    for regime in doc["regimes"]:
        marker = "  ← now" if regime["regime"] == doc["current"].get(doc["axis"]) else ""
        lines.append(f"  {regime['regime']} ({regime['bars']} bars){marker}")
        for row in regime["versions"]:
            rank = f"#{row['rank']}" if row["rank"] is not None else ("too few bars" if row["too_few_bars"]
                                                                      else "no value")
            versus = row["vs_champion"]
            test = "" if versus is None else (f"  vs champion {versus['verdict']} "
                                              f"(p={fmt(versus['p_adjusted'])}, {versus['n']} shared bars)")
            crown = " (champion)" if row["champion"] else ""
            lines.append(f"    v{row['version']} {row['model_kind']:<10} {rank:<13} "
                         f"{doc['metric']}={fmt(row['value'])} n={row['n']}{crown}{test}")
    return "\n".join(lines)

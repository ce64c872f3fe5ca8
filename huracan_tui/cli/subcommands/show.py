"""`huracan show SLOT`: a slot's versions with their specs, manifests and metrics, and the bars the
live loop could not serve."""

from __future__ import annotations

from huracan_tui.cli.arguments import checked_number
from huracan_tui.cli.output import CommandError, clean, emit, fmt
from huracan_tui.settings import resolve_brain_url


def register(command) -> None:
    show = command("show", run, "a slot's versions, manifests and metrics")
    show.add_argument("slot", help="slot id, e.g. GOOG:1d:fwd_ret_1")
    show.add_argument("--number", type=int,
                      help="only this version number, with its scorecard: trading metrics after costs on its "
                           "out-of-sample bars beside buy-and-hold and the champion on the same bars")


def run(args, config) -> None:
    from brain import open_brain
    from engine.spec import spec_summary  # pydantic only

    checked_number(args.number, "--number")
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        if brain.get_slot(args.slot) is None:
            raise CommandError(f"no slot {args.slot!r} in the brain (see `huracan status`)")
        versions = brain.list_versions(args.slot)
        if args.number is not None:
            versions = [brain.get_version(args.slot, args.number)]
        document = {
            "slot": args.slot,
            "versions": [
                {
                    "number": v.number,
                    "model_kind": v.model_kind,
                    "status": v.status,
                    "created_at": v.created_at,
                    "artifact_sha256": v.artifact_sha256,
                    "manifest": clean(v.manifest),
                    "spec": dict(spec_summary(v.manifest).lines()),
                    "metrics": [
                        {"name": m.name, "value": m.value, "fold": m.fold}
                        for m in brain.version_metrics(v.id)
                    ],
                }
                for v in versions
            ],
            "serve_gaps": {state: {"bars": count, "newest": newest}
                           for state, (count, newest) in brain.serve_gap_summary(args.slot).items()},
        }
        if args.number is not None:
            from dataclasses import asdict

            from scheduler.services.scorecard import version_scorecard

            document["scorecard"] = clean(asdict(version_scorecard(brain, args.slot, args.number)))

    def render(doc) -> str:
        lines = [f"slot {doc['slot']}"]
        for v in doc["versions"]:
            overall = {m["name"]: m["value"] for m in v["metrics"] if m["fold"] is None}
            lines.append(f"  v{v['number']} {v['model_kind']:<9} {v['status']:<9} "
                         f"sharpe={fmt(overall.get('sharpe'))} ic={fmt(overall.get('ic'))} "
                         f"trained {v['created_at']:%Y-%m-%d %H:%M}")
            lines += [f"      {label:<14} {value}" for label, value in v["spec"].items()]
        card = doc.get("scorecard")
        if card and card["bars"]:
            lines.append(f"  scorecard: {card['bars']} out-of-sample bars, "
                         f"after {card['cost_bps']:g} bps costs")
            for line in card["lines"]:
                lines.append("    " + f"{line['label']:<18}" + " ".join(
                    f"{name}={fmt(value)}" for name, value in line["metrics"].items()))
            held = card["positions"]
            lines.append(f"    held: short {held['short']:.0%} flat {held['flat']:.0%} "
                         f"long {held['long']:.0%}")
        if card and card["latest_choice"]:
            lines.append(f"    latest live bar {card['latest_choice_ts']:%Y-%m-%d %H:%M}: "
                         f"{card['latest_choice']}")
        for state, gap in doc["serve_gaps"].items():
            lines.append(f"  not served: {state} on {gap['bars']} bar(s), "
                         f"newest {gap['newest']:%Y-%m-%d %H:%M}")
        return "\n".join(lines)

    emit(document, args.json, render)

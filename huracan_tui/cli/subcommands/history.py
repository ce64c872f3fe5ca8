"""`huracan history SLOT [--at TIME]`: the slot's promotion timeline (promotions and rollbacks,
newest first); with --at, which version was live at that moment (ISO-8601, UTC)."""

from __future__ import annotations

from dataclasses import asdict

from huracan_tui.cli.arguments import parse_utc
from huracan_tui.cli.lifecycle import require_slot
from huracan_tui.cli.output import emit
from huracan_tui.settings import resolve_brain_url


def register(command) -> None:
    history = command("history", run, "a slot's promotion timeline; --at TIME: which version was live then")
    history.add_argument("slot", help="slot id, e.g. GOOG:1d:fwd_ret_1")
    history.add_argument("--at", metavar="TIME", help="ISO-8601 time, UTC (e.g. 2026-01-05T12:00:00Z)")


def run(args, config) -> None:
    from brain import open_brain

    at = None if args.at is None else parse_utc(args.at, "--at")
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        require_slot(brain, args.slot)
        current = brain.champion(args.slot)
        document = {
            "slot": args.slot,
            "champion": None if current is None else current.number,
            "history": [asdict(record) for record in brain.promotion_history(args.slot)],
        }
        if at is not None:
            live = brain.champion(args.slot, at=at)
            document["at"] = at
            document["live"] = None if live is None else {
                "version": live.number, "model_kind": live.model_kind, "status": live.status,
                "created_at": live.created_at,
            }

    emit(document, args.json, render)


def render(doc) -> str:
    lines = []
    if "at" in doc:
        live = doc["live"]
        when = f"{doc['at']:%Y-%m-%d %H:%M:%S} UTC"
        lines.append(f"{doc['slot']} at {when}: " + (
            f"v{live['version']} ({live['model_kind']}) was live" if live else "no champion yet"))
    champion = "none yet" if doc["champion"] is None else f"v{doc['champion']}"
    lines.append(f"{doc['slot']}: champion {champion}")
    if not doc["history"]:
        lines.append("  no promotions yet (huracan promote SLOT VERSION --reason TEXT)")
    for row in doc["history"]:
        previous = "-" if row["previous_version"] is None else f"v{row['previous_version']}"
        forced = " FORCED" if row["forced"] else ""
        lines.append(f"  {row['ts']:%Y-%m-%d %H:%M:%S}  {row['kind']:<13} v{row['version']:<3} "
                     f"from {previous:<4} {row['verdict'] or '-':<17} {row['actor']:<10} "
                     f"{row['reason']}{forced}")
    return "\n".join(lines)

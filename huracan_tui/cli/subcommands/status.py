"""`huracan status`: every slot with its latest version and out-of-sample metrics."""

from __future__ import annotations

from dataclasses import asdict

from huracan_tui.cli.output import clean, emit, fmt
from huracan_tui.settings import resolve_brain_url


def register(command) -> None:
    command("status", run, "list slots with their latest version and metrics")


def run(args, config) -> None:
    from brain import open_brain

    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        slots = clean([asdict(status) for status in brain.status()])
        document = {"brain": brain.url, "slots": slots}

    def render(doc) -> str:
        if not doc["slots"]:
            return f"{doc['brain']}: no slots yet (try `huracan train` or `huracan-tui --demo`)"
        header = f"{'slot':<24} {'ver':>3} {'model':<9} {'sharpe':>7} {'hit':>6} {'ic':>7} {'rmse':>9}"
        rows = [header]
        for s in doc["slots"]:
            m = s["metrics"] or {}
            rows.append(f"{s['slot']:<24} {s['latest_version'] or '-':>3} {s['model_kind'] or '-':<9} "
                        f"{fmt(m.get('sharpe')):>7} {fmt(m.get('hit_rate')):>6} "
                        f"{fmt(m.get('ic')):>7} {fmt(m.get('rmse')):>9}")
        return "\n".join(rows)

    emit(document, args.json, render)

"""`huracan alerts [--undeliverable] [--limit N]`: the alerts the leader sent to its webhooks and
commands (alerts.sinks), newest first, each with every sink's delivery: delivered, pending (with
its next attempt) or undeliverable (with the last error)."""

from __future__ import annotations

from dataclasses import asdict

from huracan_tui.cli.arguments import checked_number
from huracan_tui.cli.output import emit
from huracan_tui.settings import resolve_brain_url


def register(command) -> None:
    alerts = command("alerts", run, "alerts sent to webhooks and commands, newest first")
    alerts.add_argument("--undeliverable", action="store_true",
                        help="only alerts a sink never got (their retries are spent)")
    alerts.add_argument("--limit", type=int, default=50, metavar="N", help="at most N alerts (default 50)")


def run(args, config) -> None:
    from brain import open_brain

    checked_number(args.limit, "--limit")
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        listed = brain.list_alerts(undeliverable=args.undeliverable, limit=args.limit)
        document = {
            "undeliverable_only": args.undeliverable,
            "sinks": [sink.label for sink in config.alerts.sinks],
            "alerts": [{**asdict(alert), "state": alert.state} for alert in listed],
        }

    emit(document, args.json, render)


def render(doc) -> str:
    if not doc["alerts"]:
        what = "no undeliverable alerts" if doc["undeliverable_only"] else "no alerts"
        return what + ("" if doc["sinks"] else " (no sinks configured: alerts.sinks)")
    lines = []
    for alert in doc["alerts"]:
        lines.append(f"{alert['created_at']:%Y-%m-%d %H:%M:%S}  #{alert['id']:<5} {alert['kind']:<13} "
                     f"{alert['state']:<13} {alert['message']}")
        for delivery in alert["deliveries"]:
            if delivery["state"] == "delivered":
                how = f"delivered {delivery['delivered_at']:%H:%M:%S}"
            elif delivery["state"] == "pending":
                how = f"pending, next attempt {delivery['next_attempt_at']:%H:%M:%S}"
            else:
                how = f"undeliverable: {delivery['last_error']}"
            tries = f"{delivery['attempts']} attempt{'s' if delivery['attempts'] != 1 else ''}"
            lines.append(f"      → {delivery['sink']}: {how} ({tries})")
    return "\n".join(lines)

"""`huracan queue list|approve|reject`: the retrain and prune queues. Policies put items in with
the rule that fired and why; an operator approves (a retrain starts, a version is pruned) or
rejects them, with a reason for the audit log."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from huracan_tui.cli.arguments import checked_number
from huracan_tui.cli.lifecycle import carry_out, request_document, require_reason
from huracan_tui.cli.output import CommandError, emit
from huracan_tui.settings import add_global_options, resolve_brain_url

QUEUES = ("retrain", "prune")
STATES = ("pending", "approved", "rejected", "done")


def register(command) -> None:
    queue = command("queue", run_list, "the retrain and prune queues: list, approve, reject")
    actions = queue.add_subparsers(dest="queue_command", metavar="ACTION", required=True)

    def action(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=help_text)
        add_global_options(sub, suppress_defaults=True)
        sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                         help="print one JSON document on stdout")
        sub.set_defaults(handler=handler)
        return sub

    listing = action("list", run_list, "list queue items, newest first")
    listing.add_argument("--queue", choices=QUEUES, help="one queue only")
    listing.add_argument("--state", choices=STATES, action="append",
                         help="only items in this state (repeatable)")
    listing.add_argument("--limit", type=int, default=200, metavar="N")
    for name, verb in (("approve", "approve"), ("reject", "reject")):
        decide = action(name, run_decide, f"{verb} a pending item (with a reason)")
        decide.add_argument("item", type=int, help="queue item id (see `huracan queue list`)")
        decide.add_argument("--reason", help="why (required; goes to the audit log)")


def run_list(args, config) -> None:
    from brain import open_brain

    checked_number(args.limit, "--limit")
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        items = brain.list_queue(args.queue, states=args.state, limit=args.limit)
        document = {"items": [asdict(item) for item in items]}

    def render(doc) -> str:
        if not doc["items"]:
            return "the queues are empty"
        lines = [f"{'id':>4} {'queue':<8} {'slot':<22} {'ver':>4} {'state':<9} {'rule':<16} reason"]
        for item in doc["items"]:
            version = "-" if item["version"] is None else f"v{item['version']}"
            lines.append(f"{item['id']:>4} {item['queue']:<8} {item['slot_key']:<22} {version:>4} "
                         f"{item['state']:<9} {item['rule']:<16} {item['reason']}")
        return "\n".join(lines)

    emit(document, args.json, render)


def run_decide(args, config) -> None:
    from brain import BrainError, open_brain

    checked_number(args.item, "item")
    action = f"queue.{args.queue_command}"
    reason = require_reason(args.reason, f"queue {args.queue_command}")
    url = resolve_brain_url(args.brain, config)
    with open_brain(url) as brain:
        try:
            brain.get_queue_item(args.item)
        except BrainError:
            raise CommandError(f"no queue item {args.item} (see `huracan queue list`)") from None
        finished = carry_out(brain, url, config, action, {"item": args.item, "reason": reason})
        document = {**request_document(finished), "item": asdict(brain.get_queue_item(args.item))}

    emit(document, args.json, lambda doc: doc["outcome"])

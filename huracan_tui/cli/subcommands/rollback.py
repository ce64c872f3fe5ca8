"""`huracan rollback SLOT [--to VERSION] --reason TEXT`: put back the previous champion (or the
version named) in one step; the rollback log keeps the metrics of both as evidence."""

from __future__ import annotations

from huracan_tui.cli.arguments import checked_number
from huracan_tui.cli.lifecycle import (
    carry_out,
    request_document,
    require_reason,
    require_slot,
    require_version,
)
from huracan_tui.cli.output import emit
from huracan_tui.settings import resolve_brain_url


def register(command) -> None:
    rollback = command("rollback", run, "put back the previous champion (or --to VERSION)")
    rollback.add_argument("slot", help="slot id, e.g. GOOG:1d:fwd_ret_1")
    rollback.add_argument("--to", type=int, metavar="VERSION", help="the version to put back")
    rollback.add_argument("--reason", help="why (required; goes to the audit log)")


def run(args, config) -> None:
    from brain import open_brain

    checked_number(args.to, "--to")
    reason = require_reason(args.reason, "rollback")
    url = resolve_brain_url(args.brain, config)
    with open_brain(url) as brain:
        if args.to is None:
            require_slot(brain, args.slot)
        else:
            require_version(brain, args.slot, args.to)
        arguments = {"slot": args.slot, "reason": reason}
        if args.to is not None:
            arguments["to"] = args.to
        finished = carry_out(brain, url, config, "rollback", arguments)
        document = request_document(finished)

    emit(document, args.json, lambda doc: doc["outcome"])

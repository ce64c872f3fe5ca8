"""`huracan prune SLOT VERSION --reason TEXT`: retire a version. It stays in the history (manifest
and metrics kept) but can no longer be promoted; the champion cannot be pruned."""

from __future__ import annotations

from huracan_tui.cli.arguments import checked_number
from huracan_tui.cli.lifecycle import carry_out, request_document, require_reason, require_version
from huracan_tui.cli.output import emit
from huracan_tui.settings import resolve_brain_url


def register(command) -> None:
    prune = command("prune", run, "retire a version (kept in the history, never promoted again)")
    prune.add_argument("slot", help="slot id, e.g. GOOG:1d:fwd_ret_1")
    prune.add_argument("version", type=int, help="version number")
    prune.add_argument("--reason", help="why (required; goes to the audit log)")


def run(args, config) -> None:
    from brain import open_brain

    checked_number(args.version, "version")
    reason = require_reason(args.reason, "prune")
    url = resolve_brain_url(args.brain, config)
    with open_brain(url) as brain:
        require_version(brain, args.slot, args.version)
        finished = carry_out(brain, url, config, "prune",
                             {"slot": args.slot, "version": args.version, "reason": reason})
        document = request_document(finished)

    emit(document, args.json, lambda doc: doc["outcome"])

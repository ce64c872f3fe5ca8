"""`huracan promote SLOT VERSION --reason TEXT [--force]`: make a version the slot's champion.

It needs a passing A/B verdict against the current champion (`huracan ab`); `--force` overrides
a missing or failing one, and the promotion and the audit log record that it was forced."""

from __future__ import annotations

from dataclasses import asdict

from huracan_tui.cli.arguments import checked_number
from huracan_tui.cli.lifecycle import carry_out, request_document, require_reason, require_version
from huracan_tui.cli.output import emit
from huracan_tui.settings import resolve_brain_url


def register(command) -> None:
    promote = command("promote", run, "make a version the slot's champion (needs a passing A/B verdict)")
    promote.add_argument("slot", help="slot id, e.g. GOOG:1d:fwd_ret_1")
    promote.add_argument("version", type=int, help="version number")
    promote.add_argument("--reason", help="why (required; goes to the audit log)")
    promote.add_argument("--force", action="store_true",
                         help="promote without a passing A/B verdict (recorded as forced)")


def run(args, config) -> None:
    from brain import open_brain

    checked_number(args.version, "version")
    reason = require_reason(args.reason, "promote")
    url = resolve_brain_url(args.brain, config)
    with open_brain(url) as brain:
        require_version(brain, args.slot, args.version)
        arguments = {"slot": args.slot, "version": args.version, "reason": reason, "force": args.force}
        finished = carry_out(brain, url, config, "promote", arguments)
        # This request's own promotion: another operator may have changed the champion since.
        promotion = brain.get_promotion(int(finished.result["promotion"]))
        document = {**request_document(finished), "promotion": asdict(promotion)}

    emit(document, args.json, lambda doc: doc["outcome"])

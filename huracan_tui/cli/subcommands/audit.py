"""`huracan audit [--since TIME] [--limit N]`: who did what, when, from where, why, and how it
ended; newest first. TIME is ISO-8601 (UTC unless it says otherwise) or a span back from now
(`24h`, `7d`)."""

from __future__ import annotations

from dataclasses import asdict

from huracan_tui.cli.arguments import checked_number, moment_or_span
from huracan_tui.cli.output import emit
from huracan_tui.settings import resolve_brain_url


def register(command) -> None:
    audit = command("audit", run, "the audit log, newest first")
    audit.add_argument("--since", metavar="TIME", help="ISO-8601 time, or a span back from now: 24h, 7d")
    audit.add_argument("--limit", type=int, default=50, metavar="N", help="at most N entries (default 50)")


def run(args, config) -> None:
    from brain import open_brain

    checked_number(args.limit, "--limit")
    since = None if args.since is None else moment_or_span(args.since, "--since")
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        entries = brain.list_audit(since=since, limit=args.limit)
        document = {"since": since, "entries": [asdict(entry) for entry in entries]}

    emit(document, args.json, render)


def render(doc) -> str:
    if not doc["entries"]:
        return "no audit entries" + (f" since {doc['since']:%Y-%m-%d %H:%M:%S} UTC" if doc["since"] else "")
    lines = []
    for entry in doc["entries"]:
        who = entry["actor"] + (f"@{entry['origin']}" if entry["origin"] else "")
        lines.append(f"{entry['ts']:%Y-%m-%d %H:%M:%S}  {who:<16} {entry['action']:<14} "
                     f"{entry['target'] or '-':<26} {entry['outcome']:<8} {entry['reason'] or ''}".rstrip())
    return "\n".join(lines)

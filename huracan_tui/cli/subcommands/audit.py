"""`huracan audit [--since TIME] [--limit N]`: who did what, when, from where, why, and how it
ended; newest first. TIME is ISO-8601 (UTC unless it says otherwise) or a span back from now
(`24h`, `7d`)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from huracan_tui.cli.lifecycle import parse_utc
from huracan_tui.cli.output import CommandError, emit
from huracan_tui.settings import resolve_brain_url


def register(command) -> None:
    audit = command("audit", run, "the audit log, newest first")
    audit.add_argument("--since", metavar="TIME", help="ISO-8601 time, or a span back from now: 24h, 7d")
    audit.add_argument("--limit", type=int, default=50, metavar="N", help="at most N entries (default 50)")


def since_moment(text: str) -> datetime:
    from scheduler.config import parse_duration

    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(text))
    except ValueError:
        return parse_utc(text, "--since")


def run(args, config) -> None:
    from brain import open_brain

    if args.limit < 1:
        raise CommandError(f"--limit must be at least 1, not {args.limit}")
    since = None if args.since is None else since_moment(args.since)
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

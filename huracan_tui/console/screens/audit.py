"""The Audit log: who did what, when, from where, why, and how it ended; newest first, `/`
filters, Enter shows an entry's details (the metrics a promotion rested on, the command that
failed)."""

from __future__ import annotations

from rich.text import Text

from huracan_tui.console.actions import bindings
from huracan_tui.console.screens.log_table import LogTableScreen, details_text

AUDIT_READ = 500
AUDIT_COLUMNS = (("id", "#"), ("ts", "When (UTC)"), ("actor", "Who"), ("action", "Action"),
                 ("target", "Target"), ("outcome", "Outcome"), ("reason", "Reason"))


def outcome_text(outcome: str) -> Text:
    word = outcome.split(":", 1)[0]
    style = {"ok": "green", "forced": "bold yellow"}.get(word, "bold red" if word in (
        "denied", "refused", "failed") else "")
    return Text(outcome[:60], style=style)


def who(actor: str, origin: str | None) -> str:
    return f"{actor}@{origin}" if origin else actor


class AuditScreen(LogTableScreen):
    BINDINGS = bindings("audit")
    TITLE_TEXT = "Audit log"
    TABLE_ID = "audit"
    COLUMNS = AUDIT_COLUMNS
    COLUMN_PRIORITY = ("id", "action", "target", "outcome", "actor", "ts", "reason")

    def read(self, brain) -> list:
        return brain.list_audit(limit=AUDIT_READ)

    def cells(self, entry) -> dict[str, object]:
        return {
            "id": Text(str(entry.id), justify="right"), "ts": f"{entry.ts:%Y-%m-%d %H:%M:%S}",
            "actor": who(entry.actor, entry.origin),
            "action": entry.action, "target": entry.target or "-", "outcome": outcome_text(entry.outcome),
            "reason": (entry.reason or "")[:50],
        }

    def details(self, entry) -> str:
        return (f"#{entry.id}  {entry.ts:%Y-%m-%d %H:%M:%S} UTC  {who(entry.actor, entry.origin)}  "
                f"{entry.action} {entry.target or ''}\noutcome: {entry.outcome}\n"
                f"reason: {entry.reason or '-'}\n{details_text(entry.details)}")

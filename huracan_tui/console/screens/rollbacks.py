"""The Rollback log: every rollback of every slot, newest first; automatic ones (a policy saw the
live metrics fall) are marked AUTO. Enter shows the evidence: what the policy measured and both
versions' metrics."""

from __future__ import annotations

from rich.text import Text

from huracan_tui.console.actions import bindings
from huracan_tui.console.screens.audit import who
from huracan_tui.console.screens.log_table import LogTableScreen, details_text

ROLLBACKS_READ = 500
ROLLBACK_COLUMNS = (("id", "#"), ("ts", "When (UTC)"), ("slot", "Slot"), ("change", "Change"), ("how", "How"),
                    ("actor", "Who"), ("reason", "Reason"))


class RollbacksScreen(LogTableScreen):
    BINDINGS = bindings("rollbacks")
    TITLE_TEXT = "Rollback log"
    TABLE_ID = "rollbacks"
    COLUMNS = ROLLBACK_COLUMNS
    COLUMN_PRIORITY = ("id", "slot", "change", "ts", "how", "reason", "actor")

    def read(self, brain) -> list:
        return brain.list_rollbacks(limit=ROLLBACKS_READ)

    def cells(self, record) -> dict[str, object]:
        how = Text("AUTO", style="bold yellow") if record.automatic else Text("manual")
        return {
            "id": Text(str(record.id), justify="right"), "ts": f"{record.ts:%Y-%m-%d %H:%M:%S}",
            "slot": record.slot_key,
            "change": f"v{record.from_version} → v{record.to_version}", "how": how,
            "actor": who(record.actor, record.origin), "reason": record.reason[:50],
        }

    def details(self, record) -> str:
        kind = "automatic rollback" if record.automatic else "rollback"
        return (f"{kind} of {record.slot_key}: v{record.from_version} → v{record.to_version}  "
                f"{record.ts:%Y-%m-%d %H:%M:%S} UTC by {who(record.actor, record.origin)}\n"
                f"reason: {record.reason}\nevidence:\n{details_text(record.evidence)}")

"""The Queues view: the retrain and prune queues, newest first, with the rule that fired, why,
and the state. Operators approve (`a`: a retrain starts as a job, a version is pruned) or reject
(`x`) a pending item with a reason; both are operator requests like every action that
changes things. Enter shows the item's evidence, `/` filters."""

from __future__ import annotations

from rich.text import Text

from huracan_tui.console.actions import bindings
from huracan_tui.console.screens.confirm import ConfirmScreen
from huracan_tui.console.screens.log_table import LogTableScreen, details_text

QUEUE_READ = 500
QUEUE_COLUMNS = (("id", "Item"), ("queue", "Queue"), ("slot", "Slot"), ("version", "Ver"),
                 ("state", "State"), ("rule", "Rule"), ("reason", "Reason"), ("created", "Queued (UTC)"),
                 ("decided", "Decided by"))
STATE_STYLES = {"pending": "bold yellow", "approved": "green", "rejected": "dim", "done": "dim green"}


def item_target(item) -> str:
    version = f" v{item.version}" if item.version is not None else ""
    return f"{item.queue} #{item.id} {item.slot_key}{version}"


class QueuesScreen(LogTableScreen):
    BINDINGS = bindings("queues")
    TITLE_TEXT = "Queues: retrain and prune"
    TABLE_ID = "queue-items"
    COLUMNS = QUEUE_COLUMNS
    # The reason (why the item was queued, in words) before the rule's name: what a decision needs.
    COLUMN_PRIORITY = ("id", "queue", "slot", "version", "state", "reason", "rule", "created", "decided")

    def read(self, brain) -> list:
        return brain.list_queue(limit=QUEUE_READ)

    def cells(self, item) -> dict[str, object]:
        return {
            "id": Text(str(item.id), justify="right"), "queue": item.queue, "slot": item.slot_key,
            "version": Text("-" if item.version is None else f"v{item.version}", justify="right"),
            "state": Text(item.state, style=STATE_STYLES.get(item.state, "")), "rule": item.rule,
            "reason": item.reason[:40], "created": f"{item.created_at:%Y-%m-%d %H:%M}",
            "decided": item.decided_by or "-",
        }

    def details(self, item) -> str:
        decided = (f"\n{item.state} by {item.decided_by} at {item.decided_at:%Y-%m-%d %H:%M:%S} UTC: "
                   f"{item.decision_reason}" if item.decided_by else "")
        job = f" (job {item.job_id})" if item.job_id else ""
        return (f"{item_target(item)}  rule {item.rule}  {item.state}{job}\nreason: {item.reason}"
                f"{decided}\nevidence:\n{details_text(item.evidence)}")

    def action_approve_item(self) -> None:
        self._decide(approve=True)

    def action_reject_item(self) -> None:
        self._decide(approve=False)

    def _decide(self, *, approve: bool) -> None:
        action = "queue.approve" if approve else "queue.reject"
        item = self.selected()
        if item is None:
            return
        if item.state != "pending":
            self.notify(f"Item {item.id} is {item.state}: only pending items are decided.",
                        severity="warning")
            return
        verb = "Approve" if approve else "Reject"
        effect = ("" if not approve else " (starts a retrain job)" if item.queue == "retrain"
                  else f" (prunes v{item.version})")

        def confirmed(reason: str | None) -> None:
            if reason is not None:
                arguments = {"item": item.id, "reason": reason, "target": item_target(item)}
                self.app.submit_request(action, arguments, on_done=lambda _request: self.load())

        question = f"{verb} {item_target(item)}{effect}?\n{item.rule}: {item.reason}"
        self.app.push_screen(ConfirmScreen(question), confirmed)

"""The Notifications view: every toast this console showed (the last 500), newest first, with its
time in UTC; a toast is gone in seconds, its line stays here. Enter shows the whole message."""

from __future__ import annotations

from rich.text import Text

from huracan_tui.console.actions import bindings
from huracan_tui.console.notification_log import LoggedToast
from huracan_tui.console.screens.log_table import LogTableScreen

NOTIFICATION_COLUMNS = (("id", "#"), ("ts", "When (UTC)"), ("severity", "Severity"), ("title", "Title"),
                        ("message", "Message"))
SEVERITY_STYLES = {"warning": "bold yellow", "error": "bold red"}


def severity_text(severity: str) -> Text:
    return Text(severity, style=SEVERITY_STYLES.get(severity, ""))


class NotificationsScreen(LogTableScreen):
    BINDINGS = bindings("notifications")
    TITLE_TEXT = "Notifications"
    TABLE_ID = "notifications"
    COLUMNS = NOTIFICATION_COLUMNS
    COLUMN_PRIORITY = ("id", "severity", "title", "ts", "message")

    def load(self) -> None:
        """The log is in memory: no thread, no brain read, no timer. The app calls this again on
        every new toast."""
        self.records = {self.key_of(toast): toast for toast in self.app.notification_log}
        self.show_records()

    def cells(self, toast: LoggedToast) -> dict[str, object]:
        # Text, not str: a message is shown as written, never read as markup.
        return {
            "id": Text(str(toast.id), justify="right"), "ts": f"{toast.ts:%H:%M:%S}",
            "severity": severity_text(toast.severity), "title": Text(toast.title[:30]),
            "message": Text(toast.message[:100]),
        }

    def details(self, toast: LoggedToast) -> Text:
        heading = f"#{toast.id}  {toast.ts:%Y-%m-%d %H:%M:%S} UTC  {toast.severity}  {toast.title}\n"
        return Text(heading) + Text(toast.message)

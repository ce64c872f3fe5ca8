"""`?` / F1: every key and every `:` command, straight from the registries; type to search."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from huracan_tui.console.actions import ACTIONS, key_label
from huracan_tui.console.prompt import PROMPT_WORDS

SCOPE_NAMES = {"app": "everywhere", "models": "Models view", "detail": "slot detail", "jobs": "Jobs view",
               "drift": "Drift view", "importance": "Importance view", "compare": "A/B view",
               "replay": "Replay view", "registry": "Registry view", "rollbacks": "Rollback log",
               "audit": "Audit log", "queues": "Queues view", "data": "Data view"}


def help_rows(allowed) -> list[tuple[str, str, str]]:
    rows = []
    for action in ACTIONS:
        note = "" if allowed(action) else "  [operators only]"
        rows.append((key_label(action.keys), action.description + note, SCOPE_NAMES[action.scope]))
    for name, (_, takes, text) in PROMPT_WORDS.items():
        rows.append((f":{name} {takes}".strip(), text, "command line"))
    return rows


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "Close help", id="close-help")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-dialog"):
            yield Static("Huracan — keys", classes="section-title")
            search = Input(placeholder="search keys and commands", id="help-search")
            search.cursor_blink = False  # over SSH every blink is traffic
            yield search
            table = DataTable(id="help-keys", cursor_type="none", show_cursor=False)
            table.add_columns("Key", "Action", "Where")
            yield table
            yield Static("Type to search · Esc closes this help.", id="help-footer")

    def on_mount(self) -> None:
        self.show_rows("")

    @on(Input.Changed, "#help-search")
    def _search(self, event: Input.Changed) -> None:
        self.show_rows(event.value)

    def show_rows(self, query: str) -> None:
        table = self.query_one("#help-keys", DataTable)
        table.clear()
        wanted = query.strip().lower()
        for row in help_rows(self.app.action_is_available):
            if not wanted or any(wanted in cell.lower() for cell in row):
                table.add_row(*row)

    def action_close(self) -> None:
        self.dismiss(None)

"""`?` / F1: every key and what it does, straight from the actions registry."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from huracan_tui.actions import ACTIONS, key_label

SCOPE_NAMES = {"app": "everywhere", "models": "Models view", "detail": "slot detail"}


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close help", id="close-help")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-dialog"):
            yield Static("Huracan — keys", classes="section-title")
            table = DataTable(id="help-keys", cursor_type="none", show_cursor=False)
            table.add_columns("Key", "Action", "Where")
            for action in ACTIONS:
                table.add_row(key_label(action.keys), action.description, SCOPE_NAMES[action.scope])
            yield table
            yield Static("Esc closes this help.", id="help-footer")

    async def action_dismiss(self, result=None) -> None:
        self.dismiss(result)

"""The `:` prompt at the bottom of the screen; Enter runs the command, Esc cancels."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input


class PromptScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="command-line-cancel")]

    def compose(self) -> ComposeResult:
        prompt = Input(placeholder="slot GOOG · models · theme huracan-light · interval 5 · help · q",
                       id="command-input")
        prompt.cursor_blink = False  # over SSH every blink is traffic
        yield prompt

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)

"""Destructive actions ask first, and take a reason that goes into the audit log."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class ConfirmScreen(ModalScreen[str | None]):
    """Dismisses with the reason typed (confirmed) or None (Esc). An empty reason is refused."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="confirm-cancel")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-dialog"):
            yield Static("Confirm", classes="section-title")
            yield Static(self.question, id="confirm-question")
            yield from self.compose_extra()
            reason = Input(placeholder="reason (required, goes to the audit log)", id="confirm-reason")
            reason.cursor_blink = False
            yield reason
            yield from self.compose_after()
            yield Static("Enter confirms · Esc cancels", id="confirm-hint")

    @on(Input.Submitted, "#confirm-reason")
    def _submitted(self, event: Input.Submitted) -> None:
        self.confirm(event.value)

    def confirm(self, text: str) -> None:
        """Enter with `text` as the reason: refused when empty, else the dialog's result."""
        reason = text.strip()
        if not reason:
            self.query_one("#confirm-hint", Static).update("A reason is required · Esc cancels")
            return
        result = self.result(reason)
        if result is not None:
            self.dismiss(result)

    def compose_extra(self) -> ComposeResult:
        """More to show or ask, between the question and the reason (subclasses)."""
        yield from ()

    def compose_after(self) -> ComposeResult:
        """More to ask after the reason, the first field (subclasses)."""
        yield from ()

    def result(self, reason: str):
        """What the dialog dismisses with; None keeps it open (a subclass found bad input)."""
        return reason

    def action_cancel(self) -> None:
        self.dismiss(None)

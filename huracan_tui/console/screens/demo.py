"""Offered once on an empty brain: import the bundled real market data and train the demo."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

OFFER = (
    "This brain has no models yet.\n\n"
    "Start the demo? It imports the bundled real market data (GOOG daily, EUR/USD hourly, "
    "BTC/USD monthly), trains the default models in a separate worker process, and this view "
    "fills as versions land.\n\n"
    "[b]Enter[/b] / [b]d[/b] start the demo    [b]Esc[/b] not now"
)


class DemoOfferScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("enter,d,y", "start", "Start demo", id="demo-start"),
        Binding("escape,n", "decline", "Not now", id="demo-decline"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-dialog"):
            yield Static("Huracan demo", classes="section-title")
            yield Static(OFFER, id="demo-offer")

    def action_start(self) -> None:
        self.dismiss(True)

    def action_decline(self) -> None:
        self.dismiss(False)

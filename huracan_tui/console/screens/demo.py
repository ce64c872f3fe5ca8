"""Offered once on an empty brain: import the bundled real market data and train the demo. On a
brain that has models the demo asks first (it would train every demo slot again)."""

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




def retrain_question(slots: int) -> str:
    """Asked before the demo runs on a brain that has models: it would train them all again."""
    return (f"This brain already has {slots} slot{'s' if slots != 1 else ''} with models.\n\n"
            "Run the demo anyway? It imports the bundled market data again and trains a new version "
            "of every demo slot in a worker process (champions stay champions until promoted).\n\n"
            "[b]Enter[/b] / [b]d[/b] run the demo    [b]Esc[/b] leave the brain as it is")


class DemoOfferScreen(ModalScreen[bool]):
    """Offered once on an empty brain; asked first where the brain has models (`existing`)."""

    BINDINGS = [
        Binding("enter,d,y", "start", "Start demo", id="demo-start"),
        Binding("escape,n", "decline", "Not now", id="demo-decline"),
    ]

    def __init__(self, existing: int = 0) -> None:
        super().__init__()
        self.existing = existing

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-dialog"):
            yield Static("Huracan demo", classes="section-title")
            yield Static(retrain_question(self.existing) if self.existing else OFFER, id="demo-offer")

    def action_start(self) -> None:
        self.dismiss(True)

    def action_decline(self) -> None:
        self.dismiss(False)

"""What every console screen shares: actions are gated by the one check in the app."""

from __future__ import annotations

from textual.screen import Screen


class HuracanScreen(Screen):
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Hidden from a viewer's footer; a press is refused aloud and audited by app.run_action.
        return self.app.allows(action)

    def action_show_compare(self) -> None:
        """C on a slot's views (Models, detail): the app knows which slot is in view."""
        self.app.action_show_compare()

    def action_retrain(self) -> None:
        """t on a slot's views (Models, detail): retrain the slot in view."""
        self.app.action_retrain()

"""What every console screen shares: actions are gated by the one check in the app."""

from __future__ import annotations

from textual.screen import Screen


class HuracanScreen(Screen):
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.app.allows(action)

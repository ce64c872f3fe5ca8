"""The command palette (Ctrl+P) offers every registered action the operator may run here."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from huracan_tui.console.actions import ACTIONS, Action, key_label


class ActionsProvider(Provider):
    def _available(self) -> list[Action]:
        app = self.app
        return [a for a in ACTIONS if app.action_is_available(a)]

    async def discover(self) -> Hits:
        for action in self._available():
            yield DiscoveryHit(f"{action.label} ({key_label(action.keys)})",
                               partial(self.app.run_registered_action, action),
                               help=action.description)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for action in self._available():
            text = f"{action.label}: {action.description}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text),
                          partial(self.app.run_registered_action, action), help=key_label(action.keys))

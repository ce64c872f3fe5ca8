"""The command palette (Ctrl+P) offers the registered actions that apply where it was opened: the
app's own, and those the view under it binds (a replay key is not offered in the Models view,
where it would do nothing). A viewer is not offered what changes things."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from huracan_tui.console.actions import ACTIONS, Action, key_label


def applies_on(screen):
    """Whether an action does something on `screen`: the app's do everywhere, a view's only on
    the view that binds it."""
    bound = {getattr(binding, "id", None) for binding in getattr(screen, "BINDINGS", ())}
    return lambda action: action.scope == "app" or action.id in bound


class ActionsProvider(Provider):
    def _available(self) -> list[Action]:
        app = self.app
        here = applies_on(self.screen)
        return [a for a in ACTIONS if here(a) and app.action_is_available(a)]

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

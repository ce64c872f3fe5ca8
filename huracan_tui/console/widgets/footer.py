"""The key bar at the bottom of every view: Textual's Footer, compact on a narrow terminal, so an
80-column one shows the view's keys, Help and Quit instead of cutting them off."""

from __future__ import annotations

from textual.widgets import Footer

NARROW = 110  # columns below which the keys are drawn without their padding


class ConsoleFooter(Footer):
    def on_mount(self) -> None:
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        compact = self.app.size.width < NARROW
        if compact != self.compact:
            self.compact = compact

"""One line at the top of every screen: which brain, how fresh the view is."""

from __future__ import annotations

from textual.widgets import Static


class StatusBar(Static):
    def show(self, line: str) -> None:
        self.update(line)

"""One line at the top of every screen: which brain, how fresh the view is."""

from __future__ import annotations

from textual.widgets import Static


class StatusBar(Static):
    _line: str | None = None

    def show(self, line: str) -> None:
        if line == self._line:
            return
        self._line = line
        # One line of fixed size (themes: height 1, full width): no layout pass, so the
        # tables below are not repainted — over SSH that is most of a refresh's traffic.
        self.update(line, layout=False)

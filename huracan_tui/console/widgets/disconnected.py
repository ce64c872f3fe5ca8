"""The banner under the status bar while the brain cannot be reached.

The console keeps polling (with backoff) and takes the banner down on the first good poll, so an
operator sees at a glance that the figures on screen are stale, since when, and that nothing
needs doing: it reconnects by itself."""

from __future__ import annotations

from datetime import datetime

from textual.widgets import Static

# Backoff: each failed poll doubles the wait, from the refresh interval up to this.
MAX_RETRY_SECONDS = 30.0


def retry_seconds(refresh_seconds: float, failures: int) -> float:
    return min(MAX_RETRY_SECONDS, max(refresh_seconds, refresh_seconds * 2 ** max(0, failures - 1)))


def outage_text(since: datetime, every: float, error: str) -> str:
    return f"Brain unreachable since {since:%H:%M:%S} UTC — retrying every {every:g}s\n{error}"


class DisconnectedBanner(Static):
    DEFAULT_CSS = """
    DisconnectedBanner {
        width: 1fr;
        height: auto;
        padding: 0 1;
        background: $error;
        color: $text;
        text-style: bold;
    }
    """

    def show(self, since: datetime, every: float, error: str) -> None:
        self.update(outage_text(since, every, error))

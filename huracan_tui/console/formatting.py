"""How numbers and times look in the console's cells."""

from __future__ import annotations

import math
from datetime import datetime

from rich.text import Text


def number(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 2) -> Text:
    """Green when positive, red when negative: Sharpe and IC read at a glance."""
    if value is None or not math.isfinite(value):
        return Text("-", justify="right")
    style = "green" if value > 0 else "red" if value < 0 else ""
    return Text(f"{value:+.{digits}f}", style=style, justify="right")


def percent(value: float | None) -> Text:
    if value is None or not math.isfinite(value):
        return Text("-", justify="right")
    return Text(f"{100 * value:.1f}%", justify="right")


def right(text: str) -> Text:
    return Text(text, justify="right")


def timestamp(value: datetime | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M")


def age(seconds: float) -> str:
    """How long ago, as people say it at a glance: '40s ago', '6m ago', '3h ago', '2d ago'."""
    seconds = max(seconds, 0.0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"

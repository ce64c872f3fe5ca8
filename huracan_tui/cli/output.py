"""What every command shares: one JSON document or readable text on stdout, and errors the
user can fix worded as one line."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import date, datetime


class CommandError(Exception):
    """A problem the user can fix, worded as one line."""


def _json_default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


def emit(document, as_json: bool, render: Callable[[object], str]) -> None:
    if as_json:
        print(json.dumps(document, default=_json_default, indent=2, allow_nan=False))
    else:
        print(render(document))


def clean(value):
    """JSON has neither NaN nor infinity: a metric that is undefined or unbounded is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean(item) for item in value]
    return value


def fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"

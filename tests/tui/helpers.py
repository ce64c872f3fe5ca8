"""Driving the console in tests: build it on a brain, wait on conditions (never fixed sleeps)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from brain import open_brain
from huracan_tui.console.app import HuracanApp
from scheduler.config import HuracanConfig
from tests.grants import grant_quietly
from tests.waiting import POLL_SECONDS, timed_out

T = TypeVar("T")

FROZEN_NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def make_app(brain_url: str, *, config: HuracanConfig | None = None, **kwargs) -> HuracanApp:
    config = config or HuracanConfig.model_validate({"console": {"refresh_seconds": 0.2}})
    kwargs.setdefault("identity", ("alice", None))  # the same user on every machine
    brain = open_brain(brain_url)
    if not brain.read_only:  # the console's user is an operator unless a test lowers it
        grant_quietly(brain, kwargs["identity"][0])
    return HuracanApp(brain, brain_url, config, clock=lambda: FROZEN_NOW, **kwargs)


async def wait_until(pilot, condition: Callable[[], T], *, timeout: float = 20.0,
                     what: str = "condition") -> T:
    """tests.waiting.wait_until inside a pilot: it pauses the app, which goes on processing
    messages, where the other sleeps."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(timed_out(timeout, what))
        await pilot.pause(POLL_SECONDS)
    return value


async def tables_measured(pilot) -> None:
    """Wait until every DataTable on the screen has measured the rows and columns it was given:
    DataTable sizes itself on idle, and a loaded machine has looked before (a snapshot's columns
    as wide as their headings; a virtual width of every column after the narrow set was chosen)."""
    from textual.widgets import DataTable

    await wait_until(pilot, lambda: not any(table._require_update_dimensions
                                            for table in pilot.app.screen.query(DataTable)),
                     what="the tables measured")
    await pilot.pause()

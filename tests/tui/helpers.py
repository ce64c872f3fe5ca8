"""Driving the console in tests: build it on a brain, wait on conditions (never fixed sleeps)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from brain import open_brain
from huracan_tui.console.app import HuracanApp
from scheduler.config import HuracanConfig

FROZEN_NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def make_app(brain_url: str, *, config: HuracanConfig | None = None, **kwargs) -> HuracanApp:
    config = config or HuracanConfig.model_validate({"console": {"refresh_seconds": 0.2}})
    kwargs.setdefault("identity", ("alice", None))  # the same user on every machine
    return HuracanApp(open_brain(brain_url), brain_url, config, clock=lambda: FROZEN_NOW, **kwargs)


async def wait_until(pilot, condition, *, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.05)

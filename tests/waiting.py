"""Waiting in tests on a condition, never a fixed sleep: poll it until it holds or a deadline passes.

`wait_until` is for tests that drive processes, threads or a brain from outside. Its one sibling,
`tests.tui.helpers.wait_until`, waits inside a Textual pilot (it pauses the app rather than
sleeping, so the app goes on processing messages); it lives there so that this module, which the
scheduler tests import, never imports the console.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

# Often enough that a test ends soon after its condition holds, seldom enough not to load a
# machine that runs the workers being waited on.
POLL_SECONDS = 0.05

T = TypeVar("T")


def timed_out(timeout: float, what: str) -> str:
    return f"timed out after {timeout}s waiting for {what}"


def wait_until(condition: Callable[[], T], timeout: float, what: str) -> T:
    """Poll `condition` until it returns something truthy and return that, or fail after `timeout`
    seconds naming `what` was awaited."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(timed_out(timeout, what))
        time.sleep(POLL_SECONDS)
    return value

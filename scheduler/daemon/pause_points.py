"""Test-only pause points, so a crash test's kill -9 lands at a known moment.

With HURACAN_TEST_PAUSE_AT=<phase> a worker or leader stops for good when it reaches that
phase, after writing its pid to HURACAN_TEST_PAUSED_FILE (the test waits for that file, then
kills the process). Unset, every call here returns at once. Phases:

- claim: a worker, before it claims its job
- claimed: a worker, right after it claimed its job, before the job's runner starts
- progress: a worker, right after its first progress report reached the brain
- midway: a worker, after the first report at half way or more
- store: a worker, inside the transaction storing a version (artifact written, version row not)
- dispatch: the leader, right after it started a worker for a queued job
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from brain import Brain

PAUSE_AT_ENV = "HURACAN_TEST_PAUSE_AT"
PAUSED_FILE_ENV = "HURACAN_TEST_PAUSED_FILE"


def pause_if_asked(phase: str) -> None:
    if os.environ.get(PAUSE_AT_ENV) != phase:
        return
    if paused_file := os.environ.get(PAUSED_FILE_ENV):
        Path(paused_file).write_text(str(os.getpid()), encoding="ascii")
    threading.Event().wait()  # until the test kills us


def after_progress(fraction: float) -> None:
    pause_if_asked("progress")
    if fraction >= 0.5:
        pause_if_asked("midway")


def install_store_pause(brain: Brain) -> None:
    """Pause as the version row is about to be inserted, mid-transaction."""
    if os.environ.get(PAUSE_AT_ENV) != "store":
        return

    def before_execute(statement: str) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO MODEL_VERSIONS"):
            pause_if_asked("store")

    brain.on_statement(before_execute)

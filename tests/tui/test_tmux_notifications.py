"""In a real terminal: a drift flag that stays on through many polls is one toast, counted in the
Notifications view (every toast the console showed), after polls counted by the status bar's
refreshed time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from brain import open_brain
from tests.conftest import write_config
from tests.tui.test_tmux import BIN, Terminal, pytestmark  # noqa: F401  (tmux marks, shared)
from tests.tui.test_tui_events import GOOG, _drift
from tests.waiting import wait_until

REFRESHED = re.compile(r"refreshed (\d\d:\d\d:\d\d) UTC")
T0 = datetime(2026, 1, 6, 8, tzinfo=UTC)
POLLS_SEEN = 8  # distinct refreshed times, a second apart at the least: ~30 polls at 0.25 s


def test_unchanged_drift_is_toasted_at_most_once_over_many_polls(seeded_brain_url, terminal_env, tmp_path):
    config = write_config(tmp_path / "huracan.yaml", console={"refresh_seconds": 0.25})
    term = Terminal([str(BIN / "huracan-tui"), "--brain", seeded_brain_url, "--config", str(config),
                     "--no-leader"], terminal_env, tmp_path / "exit-status")
    try:
        term.wait_for("GOOG:1d:fwd_ret_1")
        with open_brain(seeded_brain_url) as brain:
            _drift(brain, T0, drifted=3)  # the flag turns on: one toast
        term.wait_for("Drift detected")
        seen: set[str] = set()
        checks = 0

        def polled_again() -> bool:
            nonlocal checks
            times = set(REFRESHED.findall(term.screen()))
            if times - seen:  # a later poll: the leader checks again and finds the same verdict
                seen.update(times)
                checks += 1
                with open_brain(seeded_brain_url) as brain:
                    _drift(brain, T0 + timedelta(hours=checks), drifted=3)
            return len(seen) >= POLLS_SEEN

        wait_until(polled_again, 60, f"{POLLS_SEEN} refreshed times in the status bar")
        term.keys("N")
        screen = term.wait_for("When (UTC)")
        logged = [line for line in screen.splitlines() if "Drift detected" in line and GOOG in line]
        assert len(logged) == 1, screen
        term.keys("q")
        assert term.wait_exit() == 0
    finally:
        term.close()
